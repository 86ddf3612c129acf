// A small drawing surface over a pureimage bitmap. Images, rectangles, lines and markers are written
// straight into the RGBA bytes (exact colours, no anti-aliasing, so tests can look for them); text goes
// through pureimage's fillText with the registered TrueType font. PNG encoding collects pureimage's
// stream into a Buffer, which is written atomically (src/util/atomic_write.ts).
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Writable } from "node:stream";
import * as PImage from "pureimage";
import { writeFileAtomic } from "../util/atomic_write.js";
import { ensureFont, FONT_FAMILY } from "./font.js";

/** An RGB byte colour. */
export type Colour = readonly [number, number, number];

/** An RGB image, row-major from the top-left, 3 bytes per pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export const WHITE: Colour = [255, 255, 255];
export const BLACK: Colour = [0, 0, 0];

export type TextAlign = "left" | "center" | "right";
export type TextBaseline = "top" | "middle" | "alphabetic";

export interface TextStyle {
  /** Font size in pixels (integer; default 13). */
  size?: number;
  colour?: Colour;
  align?: TextAlign;
  baseline?: TextBaseline;
}

function hex(c: Colour): string {
  return `#${c.map((v) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, "0")).join("")}`;
}

export class Canvas {
  readonly width: number;
  readonly height: number;
  private readonly bitmap: PImage.Bitmap;

  constructor(width: number, height: number, background: Colour = WHITE) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`Canvas: size must be positive integers, got ${width} x ${height}`);
    }
    if (width * height > 64e6) throw new RangeError(`Canvas: ${width} x ${height} px is too large (over 64 megapixels)`);
    this.width = width;
    this.height = height;
    this.bitmap = PImage.make(width, height);
    this.fillRect(0, 0, width, height, background);
  }

  /** The RGBA bytes (row-major). */
  get rgba(): Uint8Array {
    return this.bitmap.data;
  }

  /** The colour at (x, y). */
  pixel(x: number, y: number): Colour {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) throw new RangeError(`Canvas.pixel: (${x}, ${y}) is outside ${this.width} x ${this.height}`);
    const o = 4 * (y * this.width + x);
    const d = this.bitmap.data;
    return [d[o]!, d[o + 1]!, d[o + 2]!];
  }

  setPixel(x: number, y: number, c: Colour): void {
    x = Math.floor(x);
    y = Math.floor(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    const d = this.bitmap.data;
    d[o] = c[0];
    d[o + 1] = c[1];
    d[o + 2] = c[2];
    d[o + 3] = 255;
  }

  /** Fills [x, x + w) x [y, y + h), clipped to the canvas. */
  fillRect(x: number, y: number, w: number, h: number, c: Colour): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c);
  }

  /** An outline `thickness` px wide lying inside [x, x + w) x [y, y + h). */
  strokeRect(x: number, y: number, w: number, h: number, c: Colour, thickness = 1): void {
    const t = Math.max(1, Math.min(thickness, Math.floor(w / 2), Math.floor(h / 2)));
    this.fillRect(x, y, w, t, c);
    this.fillRect(x, y + h - t, w, t, c);
    this.fillRect(x, y, t, h, c);
    this.fillRect(x + w - t, y, t, h, c);
  }

  /** A straight line of the given width (square pen stamped every half pixel). */
  line(x0: number, y0: number, x1: number, y1: number, c: Colour, width = 1): void {
    const n = Math.max(1, Math.ceil(2 * Math.hypot(x1 - x0, y1 - y0)));
    const r = width / 2;
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      this.fillRect(Math.round(x - r), Math.round(y - r), Math.max(1, Math.round(width)), Math.max(1, Math.round(width)), c);
    }
  }

  /** A filled disc of radius r centred at (x, y), with an optional outline colour. */
  disc(x: number, y: number, r: number, fill: Colour, outline?: Colour): void {
    const R = Math.ceil(r) + 1;
    for (let dy = -R; dy <= R; dy++) {
      for (let dx = -R; dx <= R; dx++) {
        const d = Math.hypot(dx, dy);
        if (d > r) continue;
        this.setPixel(Math.round(x) + dx, Math.round(y) + dy, outline !== undefined && d > r - 1.2 ? outline : fill);
      }
    }
  }

  /** Paints `img` with its top-left at (x, y), each pixel as a `scale` x `scale` block (nearest neighbour). */
  drawImage(img: RgbImage, x: number, y: number, scale = 1): void {
    if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`Canvas.drawImage: scale must be a positive integer, got ${scale}`);
    const d = this.bitmap.data;
    for (let sy = 0; sy < img.height; sy++) {
      for (let dy = 0; dy < scale; dy++) {
        const yy = y + sy * scale + dy;
        if (yy < 0 || yy >= this.height) continue;
        for (let sx = 0; sx < img.width; sx++) {
          const s = 3 * (sy * img.width + sx);
          for (let dx = 0; dx < scale; dx++) {
            const xx = x + sx * scale + dx;
            if (xx < 0 || xx >= this.width) continue;
            const o = 4 * (yy * this.width + xx);
            d[o] = img.data[s]!;
            d[o + 1] = img.data[s + 1]!;
            d[o + 2] = img.data[s + 2]!;
            d[o + 3] = 255;
          }
        }
      }
    }
  }

  /** Width in px of `text` at `size`. */
  textWidth(text: string, size = 13): number {
    ensureFont();
    const ctx = this.bitmap.getContext("2d");
    ctx.font = `${Math.round(size)}px ${FONT_FAMILY}`;
    return ctx.measureText(text).width;
  }

  text(text: string, x: number, y: number, style: TextStyle = {}): void {
    ensureFont();
    const ctx = this.bitmap.getContext("2d");
    const size = Math.round(style.size ?? 13);
    ctx.font = `${size}px ${FONT_FAMILY}`;
    ctx.fillStyle = hex(style.colour ?? BLACK);
    ctx.textAlign = style.align === "center" ? "center" : style.align === "right" ? "right" : "left";
    ctx.textBaseline = style.baseline ?? "alphabetic";
    ctx.fillText(text, x, y);
  }

  /** The PNG bytes. */
  async toPng(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    await PImage.encodePNGToStream(this.bitmap, sink);
    return Buffer.concat(chunks);
  }
}

/** Splits `text` into lines no wider than `maxWidth` px at `size` (words longer than a line stay whole). */
export function wrapText(canvas: Canvas, text: string, maxWidth: number, size: number): string[] {
  const words = text.split(/\s+/).filter((w) => w !== "");
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    const candidate = line === "" ? w : `${line} ${w}`;
    if (line !== "" && canvas.textWidth(candidate, size) > maxWidth) {
      lines.push(line);
      line = w;
    } else line = candidate;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** Throws a clear error unless the directory of `path` exists (checked before any rendering work). */
export function checkOutputPath(path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`figures: the output directory ${dir} does not exist; create it first`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new Error(`figures: the output ${path} is a directory; give a file name such as ${path.replace(/\/+$/, "")}/figure.png`);
}

/** Writes PNG bytes to `path` atomically (a temporary file renamed over the target). */
export function writePngAtomic(path: string, png: Uint8Array): void {
  writeFileAtomic(path, (write) => write(png));
}
