// A small T1-like head phantom for the randomisation tests: a WM core, a GM shell and a CSF rim (with a
// little texture) inside a skull shell, 1 mm voxels centred at the origin; optionally a bright 3x3x3
// landmark in the white matter, off centre.
import type { Volume } from "../../../src/volume/volume.js";

export interface HeadPhantom {
  /** With the skull. */
  readonly head: Volume;
  /** Skull-stripped (the brain only). */
  readonly brain: Volume;
  /** 0 outside the brain, 1 CSF, 2 GM, 3 WM. */
  readonly labels: Uint8Array;
  /** Voxel coordinates of the landmark's centre. */
  readonly landmark: readonly [number, number, number];
}

export function headPhantom(n = 40, o: { landmark?: boolean } = {}): HeadPhantom {
  const c = (n - 1) / 2;
  const landmark = [c + 4.5, c + 3.5, c - 2.5] as const;
  const head = new Float32Array(n ** 3);
  const brain = new Float32Array(n ** 3);
  const labels = new Uint8Array(n ** 3);
  const R = 0.38 * n;
  let q = 0;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++, q++) {
        const r = Math.hypot(i - c, (j - c) / 1.1, k - c) / R;
        const t = 3 * Math.sin(0.9 * i + 0.5 * j) * Math.cos(0.7 * k);
        const mark = o.landmark === true && Math.abs(i - landmark[0]) <= 1 && Math.abs(j - landmark[1]) <= 1 && Math.abs(k - landmark[2]) <= 1;
        const [v, l] = mark ? [300, 3] : r < 0.5 ? [100 + t, 3] : r < 0.75 ? [65 + t, 2] : r < 0.9 ? [25 + t / 3, 1] : [0, 0];
        brain[q] = v;
        labels[q] = l;
        head[q] = r > 1.05 && r < 1.25 ? 90 : v;
      }
    }
  }
  const affine = [1, 0, 0, -c, 0, 1, 0, -c, 0, 0, 1, -c, 0, 0, 0, 1];
  return { head: { data: head, dims: [n, n, n], affine }, brain: { data: brain, dims: [n, n, n], affine }, labels, landmark };
}
