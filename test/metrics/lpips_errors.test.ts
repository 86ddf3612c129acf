// LPIPS weight files that are missing, swapped, of the other network, or wrong in keys or shapes:
// each is a clear error naming the file and the keys expected.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { Lpips } from "../../src/metrics/lpips.js";
import { loadTensorFile } from "../../src/torch/io/pth/pth.js";
import { assertThrowsMatching } from "../helpers.js";
import { FIXTURES, formulaBackbone } from "./lpips_formula.js";

const work = mkdtempSync(join(tmpdir(), "moediff-lpips-"));
after(() => rmSync(work, { recursive: true, force: true }));

const VGG = `${FIXTURES}lpips_vgg_tiny.pth`;
const VGG_LIN = `${FIXTURES}lpips_vgg_tiny_lin.pth`;
const ALEX = `${FIXTURES}lpips_alex_tiny.safetensors`;
const ALEX_LIN = `${FIXTURES}lpips_alex_tiny_lin.pth`;

/** Writes `src` edited by `edit` (which may delete, add or replace entries) as a safetensors file. */
function edited(name: string, src: string, edit: (sd: Map<string, T.Tensor>) => void): string {
  const path = join(work, name);
  T.tidy(() => {
    const sd = loadTensorFile(src);
    edit(sd);
    T.io.saveFile(path, sd);
  });
  return path;
}

test("missing files are named", () => {
  assertThrowsMatching(() => Lpips.fromFiles(join(work, "nope.pth"), VGG_LIN), /^LPIPS backbone weights: .*nope\.pth: cannot open the file/);
  assertThrowsMatching(() => Lpips.fromFiles(VGG, join(work, "nolin.pth")), /^LPIPS linear-layer weights: .*nolin\.pth: cannot open the file/);
});

test("swapped files and the other network's weights get a hint", () => {
  assertThrowsMatching(
    () => Lpips.fromFiles(VGG_LIN, VGG_LIN),
    /lpips_vgg_tiny_lin\.pth: cannot load the LPIPS VGG-16 backbone/,
    /looks like an LPIPS linear-layer file/,
    /missing key\(s\) features\.0\.weight, features\.0\.bias/,
    /expected a torchvision VGG-16 state dict with keys features\.0\.weight, .*features\.28\.bias \(classifier\.\* keys are ignored\)/,
  );
  assertThrowsMatching(
    () => Lpips.fromFiles(VGG, VGG),
    /lpips_vgg_tiny\.pth: cannot load the LPIPS linear layers/,
    /unexpected key\(s\) features\.0\.weight/,
    /looks like a backbone \(torchvision\) file/,
    /expected the lpips package's v0\.1 weights for 'vgg' with keys lin0\.model\.1\.weight, .*lin4\.model\.1\.weight \(shapes \[1, 6, 1, 1\], \[1, 8, 1, 1\]/,
  );
  assertThrowsMatching(() => Lpips.fromFiles(ALEX, ALEX_LIN), /lpips_alex_tiny\.safetensors: cannot load the LPIPS VGG-16 backbone/, /look like a torchvision AlexNet: choose the 'alex' network/);
  assertThrowsMatching(() => Lpips.fromFiles(VGG, VGG_LIN, { net: "alex" }), /cannot load the LPIPS AlexNet backbone/, /look like a torchvision VGG-16: choose the 'vgg' network/);
  assertThrowsMatching(() => Lpips.fromFiles(VGG, VGG_LIN, { net: "squeeze" as "vgg" }), /net must be 'vgg' or 'alex', got 'squeeze'/);
});

test("lin layers of another width are refused with the expected shape", () => {
  assertThrowsMatching(
    () => Lpips.fromFiles(VGG, `${FIXTURES}lpips_vgg_lin.pth`),
    /lpips_vgg_lin\.pth: cannot load the LPIPS linear layers/,
    /lin0\.model\.1\.weight has shape \[1, 64, 1, 1\]; the vgg backbone's layer 1 has 6 channels, so expected \[1, 6, 1, 1\]/,
    /lin4\.model\.1\.weight has shape \[1, 512, 1, 1\]; .* expected \[1, 10, 1, 1\]/,
  );
  // The full-width AlexNet lin layers with a full-width VGG-16 backbone (the formula weights).
  const sd = formulaBackbone("vgg");
  const alexLin = loadTensorFile(`${FIXTURES}lpips_alex_lin.pth`);
  try {
    assertThrowsMatching(
      () => Lpips.fromStateDicts(sd, alexLin, { linearSource: "alex.pth" }),
      /alex\.pth: cannot load the LPIPS linear layers/,
      /lin1\.model\.1\.weight has shape \[1, 192, 1, 1\]; the vgg backbone's layer 2 has 128 channels/,
      /the shapes are those of the 'alex' lin layers/,
    );
  } finally {
    for (const t of [...sd.values(), ...alexLin.values()]) t.dispose();
  }
});

test("backbone: missing keys, unexpected keys, shapes that do not chain", () => {
  const missing = edited("missing.safetensors", VGG, (sd) => {
    sd.delete("features.28.weight");
    sd.delete("features.28.bias");
  });
  assertThrowsMatching(() => Lpips.fromFiles(missing, VGG_LIN), /missing\.safetensors: cannot load the LPIPS VGG-16 backbone/, /missing key\(s\) features\.28\.weight, features\.28\.bias/);
  const bn = edited("bn.safetensors", VGG, (sd) => sd.set("features.1.running_mean", T.zeros([6])));
  assertThrowsMatching(() => Lpips.fromFiles(bn, VGG_LIN), /keys that are not VGG-16 features or classifier parameters: features\.1\.running_mean/);
  const chain = edited("chain.safetensors", VGG, (sd) => sd.set("features.5.weight", T.zeros([8, 7, 3, 3])));
  assertThrowsMatching(() => Lpips.fromFiles(chain, VGG_LIN), /features\.5\.weight has shape \[8, 7, 3, 3\]; expected \[out, 6, 3, 3\] \(in-channels from features\.2\.weight\)/);
  const bias = edited("bias.safetensors", ALEX, (sd) => sd.set("features.3.bias", T.zeros([11])));
  assertThrowsMatching(() => Lpips.fromFiles(bias, ALEX_LIN, { net: "alex" }), /features\.3\.bias has shape \[11\]; expected \[10\]/);
  const kernel = edited("kernel.safetensors", ALEX, (sd) => sd.set("features.0.weight", T.zeros([8, 3, 3, 3])));
  assertThrowsMatching(() => Lpips.fromFiles(kernel, ALEX_LIN, { net: "alex" }), /features\.0\.weight has shape \[8, 3, 3, 3\]; expected \[out, 3, 11, 11\]/);
});

test("lin file: missing and extra keys, negative or non-finite weights, legacy format", () => {
  const keys = edited("keys.safetensors", VGG_LIN, (sd) => {
    sd.delete("lin4.model.1.weight");
    sd.set("lin5.model.1.weight", T.zeros([1, 4, 1, 1]));
  });
  assertThrowsMatching(() => Lpips.fromFiles(VGG, keys), /keys\.safetensors: cannot load the LPIPS linear layers/, /unexpected key\(s\) lin5\.model\.1\.weight/, /missing key\(s\) lin4\.model\.1\.weight/);
  const negative = edited("negative.safetensors", VGG_LIN, (sd) => sd.set("lin2.model.1.weight", T.full([1, 8, 1, 1], -0.5)));
  assertThrowsMatching(() => Lpips.fromFiles(VGG, negative), /lin2\.model\.1\.weight has negative weights \(min -0\.5\)/);
  const nan = edited("nan.safetensors", VGG_LIN, (sd) => sd.set("lin1.model.1.weight", T.full([1, 8, 1, 1], NaN)));
  assertThrowsMatching(() => Lpips.fromFiles(VGG, nan), /lin1\.model\.1\.weight has non-finite values/);
  assertThrowsMatching(() => Lpips.fromFiles(VGG, `${FIXTURES}perceptual/legacy.pth`), /legacy\.pth: .*legacy \(pre-1\.6, non-zip\) serialization format/);
});

test("a failed load leaks no tensors", () => {
  const before = T.memory().numTensors;
  assert.throws(() => Lpips.fromFiles(VGG, `${FIXTURES}lpips_vgg_lin.pth`));
  assert.throws(() => Lpips.fromFiles(ALEX, ALEX_LIN));
  assert.equal(T.memory().numTensors, before);
});
