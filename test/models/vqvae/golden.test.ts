// The VQ-VAE against an independent PyTorch implementation of the same
// architecture (test/fixtures/vqvae_make_golden.py): forward values in eval
// mode, and one training step (loss, gradients, EMA codebook buffers).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as T from "../../../src/torch/index.js";
import { resolveVQVAEConfig, VQVAE } from "../../../src/models/vqvae/index.js";
import { assertClose } from "../../helpers.js";

// Compiled tests live in dist-*/test/models/vqvae/; fixtures stay in the repository's test/fixtures/.
const FIXTURE = fileURLToPath(new URL("../../../../test/fixtures/vqvae_golden.safetensors", import.meta.url));

const TINY = resolveVQVAEConfig({
  baseChannels: 8,
  channelMult: [1, 2],
  numResBlocks: 1,
  attention: true,
  embedDim: 4,
  codebookSize: 16,
  deadCodeThreshold: 0,
  lrCondition: "none", // the golden values are PyTorch's plain decoder
});

function loadGolden(): { model: VQVAE; g: Map<string, T.Tensor> } {
  const g = T.io.loadFile(FIXTURE).tensors;
  const model = new VQVAE(TINY);
  const sd = new Map<string, T.Tensor>();
  for (const [k, v] of g) if (k.startsWith("model.")) sd.set(k.slice("model.".length), v);
  model.loadStateDict(sd, { strict: true });
  return { model, g };
}

function get(g: Map<string, T.Tensor>, key: string): T.Tensor {
  const t = g.get(key);
  if (t === undefined) throw new Error(`golden fixture lacks ${key}`);
  return t;
}

test("eval forward matches PyTorch: z, indices, zq, recon, commitment loss, perplexity", () => {
  const { model, g } = loadGolden();
  model.eval();
  T.tidy(() => {
    const x = get(g, "x");
    const enc = T.noGrad(() => model.encode(x));
    assert.deepEqual(enc.z.shape, [2, 4, 4, 4]);
    assertClose(enc.z.data(), get(g, "eval.z").data(), { atol: 1e-5, rtol: 1e-4, message: "z" });
    assert.deepEqual(enc.indices.toArray(), get(g, "eval.indices").toArray());
    assertClose(enc.zq.data(), get(g, "eval.zq").data(), { atol: 1e-5, rtol: 1e-4, message: "zq" });
    assertClose(enc.commitmentLoss.item(), get(g, "eval.commitment").item(), { atol: 1e-7, rtol: 1e-4, message: "commitment" });
    assertClose(enc.perplexity.item(), get(g, "eval.perplexity").item(), { atol: 1e-5, rtol: 1e-5, message: "perplexity" });
    const recon = T.noGrad(() => model.decode(enc.zq));
    assert.deepEqual(recon.shape, [2, 1, 8, 8]);
    assertClose(recon.data(), get(g, "eval.recon").data(), { atol: 1e-5, rtol: 1e-4, message: "recon" });
  });
  model.dispose();
  for (const t of g.values()) t.dispose();
});

test("one training step matches PyTorch: L1 + commitment loss, gradients through the straight-through estimator, EMA buffers", () => {
  const { model, g } = loadGolden();
  model.train();
  T.tidy(() => {
    const out = model.loss(get(g, "x"), get(g, "target"));
    assertClose(out.reconLoss.item(), get(g, "train.recon_loss").item(), { atol: 1e-6, rtol: 1e-5, message: "recon loss" });
    assertClose(out.total.item(), get(g, "train.loss").item(), { atol: 1e-6, rtol: 1e-5, message: "total loss" });
    out.total.backward();
    const params = new Map(model.namedParameters());
    for (const key of ["encoder.conv_in.weight", "encoder.mid.attn_1.q.weight", "encoder.conv_out.bias", "decoder.conv_out.weight"]) {
      const p = params.get(key);
      assert.ok(p !== undefined, key);
      const grad = p.grad;
      assert.ok(grad !== null, `${key} has a gradient`);
      assertClose(grad.data(), get(g, `train.grad.${key}`).data(), { atol: 1e-6, rtol: 1e-3, message: `grad ${key}` });
    }
    const q = model.quantize;
    assertClose(q.clusterSize.data(), get(g, "train.cluster_size").data(), { atol: 1e-6, rtol: 1e-5, message: "cluster_size" });
    assertClose(q.embedAvg.data(), get(g, "train.embed_avg").data(), { atol: 1e-6, rtol: 1e-5, message: "embed_avg" });
    assertClose(q.embedding.data(), get(g, "train.embedding").data(), { atol: 1e-6, rtol: 1e-5, message: "embedding" });
  });
  model.dispose();
  for (const t of g.values()) t.dispose();
});
