// Writing the demo's files, each atomically (temporary file, fsync, rename): volumes, region masks,
// PNG figures and text. Every writer records the path it wrote, relative to the output directory.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { writeNifti } from "../nifti/index.js";
import { writePngAtomic, type Canvas } from "../figures/canvas.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import type { Volume } from "../volume/volume.js";

export class OutputWriter {
  readonly out: string;
  /** Paths written so far, relative to `out`, in order. */
  readonly files: string[] = [];

  constructor(out: string) {
    this.out = resolve(out);
    if (existsSync(this.out) && !statSync(this.out).isDirectory()) throw new Error(`the output ${out} exists and is not a directory; give a directory with -o DIR`);
    mkdirSync(this.out, { recursive: true });
  }

  path(rel: string): string {
    return join(this.out, rel);
  }

  private record(rel: string): string {
    const abs = this.path(rel);
    mkdirSync(dirname(abs), { recursive: true });
    if (!this.files.includes(rel)) this.files.push(rel);
    return abs;
  }

  volume(rel: string, v: Volume, description: string): string {
    const abs = this.record(rel);
    writeNifti(abs, v, { description: description.slice(0, 80) });
    return abs;
  }

  /** A 0/1 mask as uint8 on the grid of `like`. */
  mask(rel: string, mask: Uint8Array, like: Volume, description: string): string {
    const abs = this.record(rel);
    writeNifti(abs, { data: Float32Array.from(mask), dims: like.dims, affine: like.affine }, { dtype: "uint8", description: description.slice(0, 80) });
    return abs;
  }

  async png(rel: string, canvas: Canvas): Promise<string> {
    const png = await canvas.toPng();
    const abs = this.record(rel);
    writePngAtomic(abs, png);
    return abs;
  }

  text(rel: string, content: string): string {
    const abs = this.record(rel);
    writeFileAtomic(abs, (w) => w(Buffer.from(content, "utf8")));
    return abs;
  }

  /** `abs` relative to the output directory (for the record). */
  rel(abs: string): string {
    return relative(this.out, abs);
  }
}
