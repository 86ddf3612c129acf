// The minimal model card the test model directories carry (a 64x64 axial slice, 1 mm, B-spline LR),
// with any field replaced.
import { MODEL_CARD_FORMAT, type ModelCard } from "../../src/model_dir/card.js";

export function testCard(o: Partial<ModelCard> = {}): ModelCard {
  return {
    format: MODEL_CARD_FORMAT,
    version: 1,
    slice: { height: 64, width: 64, axis: "z" },
    voxelSize: [1, 1, 1],
    normalisePercentile: 99.5,
    lrInterpolation: "bspline",
    reference: { dims: [64, 64, 24], slices: 24 },
    dataset: { path: "tiny", counts: {} },
    ...o,
  };
}
