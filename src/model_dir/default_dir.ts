// Where the embedded default model lives (models/default in the package), without loading the engine,
// so engine-free commands (`view`) can name it.
import { fileURLToPath } from "node:url";

/** The embedded default model directory (compiled: dist/src/inference/ -> <package>/models/default). */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../../models/default", import.meta.url));
