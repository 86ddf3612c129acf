// The one font the figures use, registered with pureimage once, lazily (only when text is drawn).
// Default: Debian's DejaVu Sans (package fonts-dejavu-core); MOEDIFF_FONT=path overrides it.
import { existsSync } from "node:fs";
import * as PImage from "pureimage";

export const FONT_FAMILY = "MoeDiffSans";
export const DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

let loadedPath: string | undefined;

/** The font file in use: $MOEDIFF_FONT when set and non-empty, else DejaVu Sans. */
export function fontPath(): string {
  const env = process.env["MOEDIFF_FONT"];
  return env !== undefined && env.trim() !== "" ? env : DEFAULT_FONT_PATH;
}

/** Registers the font with pureimage (once per path); throws a clear error when the file is missing or unreadable. */
export function ensureFont(): void {
  const path = fontPath();
  if (loadedPath === path) return;
  const fromEnv = path !== DEFAULT_FONT_PATH;
  if (!existsSync(path)) {
    throw new Error(
      fromEnv
        ? `font ${path} (from MOEDIFF_FONT) not found; point MOEDIFF_FONT at a .ttf file, or unset it to use DejaVu Sans`
        : `font ${path} not found; install fonts-dejavu-core (scripts/setup.sh does), or set MOEDIFF_FONT to a .ttf file`,
    );
  }
  try {
    PImage.registerFont(path, FONT_FAMILY).loadSync();
  } catch (e) {
    throw new Error(`font ${path} could not be loaded (${e instanceof Error ? e.message : String(e)}); figures need a TrueType font`);
  }
  loadedPath = path;
}
