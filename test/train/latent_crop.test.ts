// Random aligned crops for MoE training: the latents and the 3T slices are cut at the same place.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { cropLatents } from "../../src/train/latent_crop.js";
import { assertThrowsMatching } from "../helpers.js";

test("cropLatents cuts one window, aligned on the autoencoder grid, from z0, the condition latent and y", () => {
  const f = 4;
  const [h, w] = [8, 12];
  // latent pixel (i, j) holds 100 i + j; the slice pixel (r, c) holds the value of latent pixel (r / f, c / f)
  /** [.., a, b] -> [.., a f, b f], each value a f x f block. */
  const blocks = (t: T.Tensor): T.Tensor => {
    const s = t.shape;
    const [a, b] = [s[s.length - 2]!, s[s.length - 1]!];
    const lead = s.slice(0, -2);
    return t.reshape(...lead, a, 1, b, 1).expand(...lead, a, f, b, f).reshape(...lead, a * f, b * f);
  };
  const grid = T.tidy(() => T.arange(h).reshape(h, 1).mul(100).add(T.arange(w).reshape(1, w)).to("float32"));
  const lat = {
    z0: grid.reshape(1, 1, h, w).expand(2, 4, h, w).contiguous(),
    condLatent: grid.reshape(1, 1, h, w).expand(2, 4, h, w).add(0.5).contiguous(),
    y: T.tidy(() => blocks(grid).reshape(1, 1, h * f, w * f).expand(2, 3, h * f, w * f).contiguous()),
  };
  const seen = new Set<number>();
  const g = new T.Generator({ seed: 5 });
  for (let k = 0; k < 20; k++) {
    T.tidy(() => {
      const c = cropLatents(lat, 16, f, g);
      assert.deepEqual(c.z0.shape, [2, 4, 4, 4]);
      assert.deepEqual(c.y.shape, [2, 3, 16, 16]);
      const corner = c.z0.flatten().toArray()[0] as number;
      seen.add(corner);
      assert.equal(T.tidy(() => c.condLatent.sub(c.z0).sub(0.5).abs().amax().item()), 0);
      const expectY = blocks(c.z0.narrow(1, 0, 1));
      assert.equal(T.tidy(() => c.y.narrow(1, 0, 1).sub(expectY).abs().amax().item()), 0, "y is not the same window");
    });
  }
  assert.ok(seen.size > 5, `only ${seen.size} distinct windows in 20 draws`);
  assert.equal(cropLatents(lat, 64, f, g), lat, "a crop as large as the slice returns the batch itself");
  assertThrowsMatching(() => cropLatents(lat, 10, f, g), /positive multiple of 4/);
  [grid, lat.z0, lat.condLatent, lat.y].forEach((t) => t.dispose());
});
