// The torch.save reader against archives written by PyTorch 1.13
// (test/fixtures/make_perceptual_fixtures.py): bit-exact values for every dtype and
// layout, ZIP variants (deflate, ZIP64, big-endian), the pickle VM's values, and the
// refusals (legacy format, truncation, corruption, unknown globals).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "../../src/torch/index.js";
import { loadFile } from "../../src/torch/io/safetensors.js";
import { detectTensorFileFormat, loadPth, loadTensorFile, readPth, TensorRef, TorchFileError } from "../../src/torch/io/pth/pth.js";
import { PickleError, unpickle } from "../../src/torch/io/pth/pickle.js";
import { crc32 } from "../../src/torch/io/pth/zip.js";
import { assertThrowsMatching } from "../helpers.js";

const FIX = fileURLToPath(new URL("../../../test/fixtures/perceptual/", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "moediff-pth-"));
after(() => rmSync(work, { recursive: true, force: true }));

const golden = loadFile(join(FIX, "pickle_cases.safetensors"));
after(() => {
  for (const t of golden.tensors.values()) t.dispose();
});
const ORDER = JSON.parse(golden.metadata.order ?? "[]") as string[];

function disposeAll(m: Map<string, T.Tensor>): void {
  for (const t of m.values()) t.dispose();
}

function assertMatchesGolden(loaded: Map<string, T.Tensor>, what: string): void {
  assert.deepEqual([...loaded.keys()], ORDER, `${what}: keys in dict order`);
  for (const [key, t] of loaded) {
    const g = golden.tensors.get(key);
    assert.ok(g !== undefined, key);
    assert.equal(t.dtype, g.dtype, `${what}: dtype of ${key}`);
    assert.deepEqual(t.shape, g.shape, `${what}: shape of ${key}`);
    assert.ok(t.isContiguous(), `${what}: ${key} is contiguous`);
    assert.deepEqual(t.bytes(), g.bytes(), `${what}: bytes of ${key}`);
  }
}

test("pickle_cases.pth (protocol 2) matches the golden bit for bit", () => {
  const before = T.memory().numTensors;
  const sd = loadPth(join(FIX, "pickle_cases.pth"));
  assertMatchesGolden(sd, "p2");
  disposeAll(sd);
  assert.equal(T.memory().numTensors, before, "no tensor handles left behind");
});

for (const variant of ["p4", "be", "deflated", "zip64"]) {
  test(`pickle_cases_${variant}.pth matches the golden bit for bit`, () => {
    const sd = loadPth(join(FIX, `pickle_cases_${variant}.pth`));
    assertMatchesGolden(sd, variant);
    disposeAll(sd);
  });
}

test("a few values by hand (independent of the golden file)", () => {
  const sd = loadPth(join(FIX, "pickle_cases.pth"));
  try {
    assert.deepEqual(sd.get("offset")?.toArray(), [1.5, 2, 2.5, 3]);
    assert.deepEqual(sd.get("scalar")?.shape, []);
    assert.equal(sd.get("scalar")?.item(), 3.5);
    assert.deepEqual(Array.from(sd.get("i64")?.data() as BigInt64Array), [0n, -1n, 2n ** 40n + 3n, -(2n ** 53n) - 7n, 2n ** 62n]);
    assert.deepEqual(sd.get("bool")?.toArray(), [1, 0, 1]);
    assert.deepEqual(sd.get("empty")?.shape, [0, 3]);
    // shared_b was row 1 of shared_a viewed as [2, 3]: equal values, but independent copies.
    const a = sd.get("shared_a") as T.Tensor;
    const b = sd.get("shared_b") as T.Tensor;
    assert.deepEqual(b.toArray(), a.toArray().slice(3));
    b.fill_(0);
    assert.notDeepEqual(a.toArray().slice(3), [0, 0, 0]);
    // The expanded [3, 1] -> [3, 4] view: every row constant.
    const e = sd.get("expanded")?.toArray() as number[];
    for (let r = 0; r < 3; r++) assert.deepEqual(e.slice(4 * r, 4 * r + 4), new Array(4).fill(e[4 * r]));
    assert.equal(sd.get("param")?.requiresGrad, false, "loaded tensors do not require grad");
  } finally {
    disposeAll(sd);
  }
});

test("readPth exposes layouts: strides, offsets, shared storages, Parameter flag", () => {
  using archive = readPth(join(FIX, "pickle_cases.pth"));
  const root = archive.root as Map<string, TensorRef>;
  assert.ok(root instanceof Map);
  const tr = root.get("transposed") as TensorRef;
  assert.deepEqual([tr.shape, tr.stride], [[5, 3], [1, 5]]);
  const off = root.get("offset") as TensorRef;
  assert.deepEqual([off.storageOffset, off.storage.numel], [3, 10]);
  const a = root.get("shared_a") as TensorRef;
  const b = root.get("shared_b") as TensorRef;
  assert.equal(a.storage, b.storage, "one StorageRef for the shared storage");
  assert.equal(b.storageOffset, 3);
  assert.equal((root.get("expanded") as TensorRef).stride[1], 0);
  assert.equal((root.get("param") as TensorRef).requiresGrad, true);
  assert.equal(archive.byteOrder, "little");
  using t = archive.materialize(tr);
  assert.ok(t.isContiguous());
});

test("readPth returns plain Python values from a checkpoint-like dict", () => {
  using archive = readPth(join(FIX, "nested.pth"));
  const root = archive.root as Map<string, unknown>;
  assert.equal(root.get("epoch"), 3);
  assert.equal(root.get("lr"), 1e-3);
  assert.equal(root.get("name"), "vgg \u00e9");
  assert.deepEqual(root.get("flags"), [true, false, null]);
  assert.deepEqual(root.get("shape"), [1, 2]);
  assert.ok(Object.isFrozen(root.get("shape")), "tuples are frozen arrays");
  assert.equal(root.get("big"), 2n ** 70n);
  assert.equal(root.get("neg"), -5);
  assert.equal(root.get("mid"), 70000);
  assert.deepEqual(root.get("blob"), new Uint8Array([0, 1, 255]));
  const model = root.get("model");
  assert.ok(model instanceof Map && model.get("w") instanceof TensorRef);
});

test("loadPth refuses a nested checkpoint and lists its keys", () => {
  assertThrowsMatching(() => loadPth(join(FIX, "nested.pth")), /nested\.pth/, /entry 'model' is a dict, not a tensor/, /epoch/, /state_dict\(\)/);
});

test("only: unwanted keys are skipped and their storages never read", () => {
  const bytes = readFileSync(join(FIX, "pickle_cases.pth"));
  const f64 = golden.tensors.get("f64")?.bytes() as Uint8Array;
  const at = Buffer.from(bytes).indexOf(Buffer.from(f64));
  assert.ok(at > 0, "the f64 storage is stored verbatim");
  bytes[at + 3] = (bytes[at + 3] as number) ^ 0xff;
  const path = join(work, "corrupt_f64.pth");
  writeFileSync(path, bytes);
  const sd = loadPth(path, { only: (k) => k === "f32" || k === "transposed" });
  assert.deepEqual([...sd.keys()], ["f32", "transposed"]);
  disposeAll(sd);
  assertThrowsMatching(() => loadPth(path), /corrupt_f64\.pth/, /CRC-32/, /corrupt/);
});

test("the legacy (non-zip) format is refused with how to re-save", () => {
  const path = join(FIX, "legacy.pth");
  assert.equal(detectTensorFileFormat(path), "pytorch-legacy");
  for (const load of [loadPth, loadTensorFile]) {
    assertThrowsMatching(() => load(path), /legacy\.pth/, /legacy/, /_use_new_zipfile_serialization=True/, /safetensors/);
  }
});

test("a truncated archive is refused with a clear error", () => {
  const bytes = readFileSync(join(FIX, "pickle_cases.pth"));
  for (const keep of [0.6, 0.98]) {
    const path = join(work, `truncated_${keep}.pth`);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * keep)));
    assertThrowsMatching(() => loadTensorFile(path), new RegExp(`truncated_${keep}\\.pth`), /truncated/);
  }
  const empty = join(work, "empty.pth");
  writeFileSync(empty, new Uint8Array(0));
  assertThrowsMatching(() => loadTensorFile(empty), /empty\.pth/, /neither a torch\.save archive/);
});

test("an unknown global is refused and never executed", () => {
  let caught: unknown;
  try {
    loadPth(join(FIX, "unknown_global.pth"));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TorchFileError);
  assert.match(caught.message, /unknown_global\.pth/);
  assert.match(caught.message, /'posix\.system'/);
  assert.match(caught.message, /nothing was executed/);
});

test("loadTensorFile picks the reader by magic bytes, not the extension", () => {
  const st = join(work, "really_safetensors.pth");
  const pt = join(work, "really_torch.safetensors");
  copyFileSync(join(FIX, "pickle_cases.safetensors"), st);
  copyFileSync(join(FIX, "pickle_cases.pth"), pt);
  assert.equal(detectTensorFileFormat(st), "safetensors");
  assert.equal(detectTensorFileFormat(pt), "pytorch-zip");
  for (const path of [st, pt]) {
    const sd = loadTensorFile(path);
    assert.deepEqual(new Set(sd.keys()), new Set(ORDER));
    for (const [k, t] of sd) assert.deepEqual(t.bytes(), golden.tensors.get(k)?.bytes(), k);
    disposeAll(sd);
  }
  const sd = loadTensorFile(st, { only: (k) => k.startsWith("f") });
  assert.deepEqual(new Set(sd.keys()), new Set(["f32", "f64", "f16"]));
  disposeAll(sd);
});

test("missing and non-tensor files give errors naming the file", () => {
  assertThrowsMatching(() => loadTensorFile(join(work, "nope.pth")), /nope\.pth/, /cannot open/);
  const txt = join(work, "notes.pth");
  writeFileSync(txt, "hello, these are not weights\n");
  assertThrowsMatching(() => loadTensorFile(txt), /notes\.pth/, /neither/);
});

// ---- the pickle VM on hand-written opcodes ----

const noHooks = {
  findClass(module: string, name: string): never {
    throw new Error(`no globals here (${module}.${name})`);
  },
  persistentLoad(): never {
    throw new Error("no persistent ids here");
  },
  build(): never {
    throw new Error("no BUILD here");
  },
};
const run = (bytes: number[]): unknown => unpickle(new Uint8Array(bytes), noHooks, "test");
const str = (s: string): number[] => [0x8c, s.length, ...Buffer.from(s, "latin1")];

test("pickle VM: lists, dicts, memo, POP/DUP, LONG1 and BINFLOAT", () => {
  // [1, 300, -2] via MARK ... LIST
  assert.deepEqual(run([0x80, 2, 0x28, 0x4b, 1, 0x4d, 0x2c, 0x01, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x6c, 0x2e]), [1, 300, -2]);
  // {"a": 1, "b": "a"(memo)} via DICT, MEMOIZE, BINGET
  const d = run([0x80, 4, 0x28, ...str("a"), 0x94, 0x4b, 1, ...str("b"), 0x68, 0, 0x64, 0x2e]) as Map<string, unknown>;
  assert.deepEqual([...d], [["a", 1], ["b", "a"]]);
  // POP, DUP, TUPLE2: (7, 7)
  assert.deepEqual(run([0x4b, 9, 0x30, 0x4b, 7, 0x32, 0x86, 0x2e]), [7, 7]);
  // LONG1 -1 (0xff) and 2^63 (9 bytes), BINFLOAT 1.5 (big-endian)
  assert.equal(run([0x8a, 1, 0xff, 0x2e]), -1);
  assert.equal(run([0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x2e]), 2n ** 63n);
  assert.equal(run([0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x2e]), 1.5);
});

test("pickle VM: truncation, unsupported opcodes and globals are errors", () => {
  assertThrowsMatching(() => run([0x80, 2, 0x58, 5, 0, 0, 0, 0x61]), /test/, /truncated/);
  assertThrowsMatching(() => run([0x80, 2, 0x4b, 1]), /truncated/);
  assertThrowsMatching(() => run([0x80, 2, 0x81, 0x2e]), /NEWOBJ/, /unsupported pickle opcode/, /byte 2/);
  assertThrowsMatching(() => run([0x63, ...Buffer.from("os\nsystem\n"), 0x2e]), /no globals here \(os\.system\)/);
  assertThrowsMatching(() => run([0x68, 3, 0x2e]), /memo entry 3/);
  assert.throws(() => run([0x4b, 1, 0x4b, 2, 0x2e]), PickleError);
});

test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});
