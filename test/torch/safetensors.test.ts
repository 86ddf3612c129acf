import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import * as T from "../../src/torch/index.js";
import {
  SafetensorsError,
  deserialize,
  loadFile,
  readHeader,
  saveFile,
  serialize,
  type TensorDict,
} from "../../src/torch/io/safetensors.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

// Compiled tests live in dist/test/torch/; fixtures stay in the repository's test/fixtures/.
const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/", import.meta.url));

const work = mkdtempSync(join(tmpdir(), "moediff-safetensors-"));
after(() => rmSync(work, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(): string {
  const d = join(work, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

const CODES: [T.DType, string][] = [
  ["float64", "F64"],
  ["float32", "F32"],
  ["float16", "F16"],
  ["bfloat16", "BF16"],
  ["int64", "I64"],
  ["int32", "I32"],
  ["int16", "I16"],
  ["int8", "I8"],
  ["uint8", "U8"],
  ["bool", "BOOL"],
];
const SHAPES: number[][] = [[], [0], [3], [2, 3, 4]];

/** Deterministic pseudo-random bytes (bools get 0/1). */
function patternBytes(n: number, seed: number, dtype: T.DType): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = dtype === "bool" ? x & 1 : x & 0xff;
  }
  return out;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Builds a safetensors buffer by hand: prefix, header text (padded), data. */
function craft(header: string | object, data: Uint8Array | number = 0, prefix?: bigint): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, prefix ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function expectError(bytes: Uint8Array, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    const r = deserialize(bytes);
    for (const t of r.tensors.values()) t.dispose();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SafetensorsError, `expected a SafetensorsError, got ${String(caught)}`);
  assert.match(caught.message, /^safetensors: buffer: /);
  for (const p of patterns) assert.match(caught.message, p);
}

function disposeAll(m: Map<string, T.Tensor>): void {
  for (const t of m.values()) t.dispose();
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".tmp"));
}

// ---------------------------------------------------------------------------
// Round trips

function makeMatrix(): Map<string, T.Tensor> {
  const m = new Map<string, T.Tensor>();
  let seed = 1;
  for (const [dtype] of CODES) {
    for (const shape of SHAPES) {
      const n = numelOf(shape) * T.ITEM_SIZE[dtype];
      m.set(`${dtype}/[${shape.join(",")}]`, T.fromBytes(patternBytes(n, seed++, dtype), shape, dtype));
    }
  }
  return m;
}

function assertSameTensors(got: Map<string, T.Tensor>, want: Map<string, T.Tensor>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name);
    assert.ok(g !== undefined, name);
    assert.equal(g.dtype, w.dtype, `${name}: dtype`);
    assert.deepEqual(g.shape, w.shape, `${name}: shape`);
    assert.equal(hex(g.bytes()), hex(w.bytes()), `${name}: bytes`);
  }
}

test("serialize/deserialize round-trips every dtype and shapes [], [0], [3], [2,3,4] bit-exactly", () => {
  T.tidy(() => {
    const src = makeMatrix();
    const bytes = serialize(src);
    const { tensors, metadata } = deserialize(bytes);
    assert.equal(tensors.size, CODES.length * SHAPES.length);
    assert.deepEqual(metadata, {});
    assertSameTensors(tensors, src);
    // Scalars and empty tensors keep their exact shapes.
    assert.deepEqual(tensors.get("float32/[]")?.shape, []);
    assert.equal(tensors.get("float32/[]")?.numel, 1);
    assert.deepEqual(tensors.get("bfloat16/[0]")?.shape, [0]);
    assert.equal(tensors.get("int64/[0]")?.bytes().length, 0);
  });
});

test("saveFile/loadFile round-trips every dtype and shape bit-exactly", () => {
  T.tidy(() => {
    const src = makeMatrix();
    const path = join(freshDir(), "matrix.safetensors");
    saveFile(path, src);
    const { tensors } = loadFile(path);
    assertSameTensors(tensors, src);
    assert.deepEqual(readFileSync(path), Buffer.from(serialize(src)));
  });
});

test("float16 and bfloat16 special bit patterns survive (NaN payloads, -0, inf, subnormals)", () => {
  T.tidy(() => {
    const patterns = [0x7e01, 0xfe55, 0x7fff, 0x8000, 0x0000, 0x7c00, 0xfc00, 0x0001, 0x8001, 0x3c00, 0x7f80, 0xff81];
    const raw = new Uint8Array(new Uint16Array(patterns).buffer);
    const src = { h: T.fromBytes(raw, [3, 4], "float16"), b: T.fromBytes(raw, [12], "bfloat16") };
    const { tensors } = deserialize(serialize(src));
    assert.equal(hex(tensors.get("h")?.bytes() ?? new Uint8Array()), hex(raw));
    assert.equal(hex(tensors.get("b")?.bytes() ?? new Uint8Array()), hex(raw));
  });
});

test("values round-trip through typed data (int64 extremes, bool, float64)", () => {
  T.tidy(() => {
    const big = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]);
    const src = new Map<string, T.Tensor>([
      ["i64", T.tensor(big)],
      ["mask", T.tensor([[true, false], [false, true]])],
      ["x", T.tensor(new Float64Array([Math.PI, -0, 1e-300, Number.MAX_VALUE]))],
    ]);
    const { tensors } = deserialize(serialize(src));
    assert.deepEqual(tensors.get("i64")?.data(), big);
    assert.equal(tensors.get("mask")?.dtype, "bool");
    assert.deepEqual(tensors.get("mask")?.toArray(), [1, 0, 0, 1]);
    const x = tensors.get("x")?.data();
    assert.ok(x instanceof Float64Array);
    assert.deepEqual(Array.from(x), [Math.PI, -0, 1e-300, Number.MAX_VALUE]);
  });
});

test("complex64 round-trips as C64", () => {
  T.tidy(() => {
    const raw = new Uint8Array(new Float32Array([1, -2, 3.5, 4]).buffer);
    const c = T.fromBytes(raw, [2], "complex64");
    const bytes = serialize({ c });
    const hdr = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))))) as Record<string, { dtype: string }>;
    assert.equal(hdr.c?.dtype, "C64");
    const { tensors } = deserialize(bytes);
    assert.equal(tensors.get("c")?.dtype, "complex64");
    assert.equal(hex(tensors.get("c")?.bytes() ?? new Uint8Array()), hex(raw));
  });
});

test("metadata round-trips, including unicode, escapes, empty values and a __proto__ key", () => {
  T.tidy(() => {
    const metadata: Record<string, string> = {
      format: "pt",
      "model.config": JSON.stringify({ channels: [64, 128], beta: 0.5 }),
      quote: 'he said "hi"\n\ttab \\ back',
      unicode: "über → λ 🧠",
      empty: "",
    };
    Object.defineProperty(metadata, "__proto__", { value: "not a prototype", enumerable: true, writable: true, configurable: true });
    const r1 = deserialize(serialize({ w: T.ones([2]) }, metadata));
    assert.deepEqual(r1.metadata, metadata);
    assert.equal(Object.getPrototypeOf(r1.metadata), Object.prototype);
    assert.equal(Object.keys(r1.metadata).length, 6);
    // Metadata with no tensors, through a file.
    const path = join(freshDir(), "meta.safetensors");
    saveFile(path, {}, metadata);
    const r2 = loadFile(path);
    assert.equal(r2.tensors.size, 0);
    assert.deepEqual(r2.metadata, metadata);
    assert.deepEqual(readHeader(path).metadata, metadata);
  });
});

test("an empty dict serializes to a valid file", () => {
  const bytes = serialize({});
  assert.equal(bytes.length % 8, 0);
  const r = deserialize(bytes);
  assert.equal(r.tensors.size, 0);
  assert.deepEqual(r.metadata, {});
});

test("non-contiguous tensors are saved in logical row-major order", () => {
  T.tidy(() => {
    const a = T.arange(6, undefined, 1, { dtype: "int32" }).reshape(2, 3).T; // [[0,3],[1,4],[2,5]]
    assert.equal(a.isContiguous(), false);
    const { tensors } = deserialize(serialize({ a }));
    assert.deepEqual(tensors.get("a")?.shape, [3, 2]);
    assert.deepEqual(tensors.get("a")?.toArray(), [0, 3, 1, 4, 2, 5]);
  });
});

test("loaded tensors do not alias the source buffer", () => {
  T.tidy(() => {
    const bytes = serialize({ x: T.tensor([1, 2, 3, 4]) });
    const { tensors } = deserialize(bytes);
    const x = tensors.get("x");
    assert.ok(x !== undefined);
    bytes.fill(0xff, bytes.length - 16); // clobber the data buffer
    assert.deepEqual(x.toArray(), [1, 2, 3, 4]);
    x.fill_(7);
    const again = deserialize(serialize({ x: T.tensor([1, 2, 3, 4]) }));
    assert.deepEqual(again.tensors.get("x")?.toArray(), [1, 2, 3, 4]);
    // A buffer that is a view into a larger ArrayBuffer at an odd offset also works.
    const src = serialize({ y: T.tensor(new Float64Array([0.25, -8])) });
    const big = new Uint8Array(src.length + 3);
    big.set(src, 3);
    const view = big.subarray(3);
    const y = deserialize(view).tensors.get("y");
    view.fill(0);
    assert.deepEqual(y?.toArray(), [0.25, -8]);
  });
});

test("serialize is deterministic and independent of insertion order", () => {
  T.tidy(() => {
    const a = T.tensor([1, 2, 3]);
    const b = T.tensor(new Float64Array([4]));
    const c = T.tensor([true, false]);
    const one = serialize({ a, b, c }, { k: "v" });
    const two = serialize(new Map([["c", c], ["b", b], ["a", a]]), { k: "v" });
    assert.deepEqual(one, two);
  });
});

test("written files have a padded header and contiguous, aligned data (parsed independently)", () => {
  T.tidy(() => {
    const src: Record<string, T.Tensor> = {
      "z.bool": T.tensor([true, false, true]),
      "a.f16": T.ones([3], { dtype: "float16" }),
      "m.i64": T.tensor(new BigInt64Array([5n])),
      "b.f32": T.zeros([2, 2]),
      "e.u8": T.zeros([0], { dtype: "uint8" }),
      "s.f64": T.full([], 2.5, { dtype: "float64" }),
      "q.i8": T.zeros([5], { dtype: "int8" }),
    };
    const path = join(freshDir(), "layout.safetensors");
    saveFile(path, src, { note: "x" });
    const file = new Uint8Array(readFileSync(path));
    const n = new DataView(file.buffer, file.byteOffset).getBigUint64(0, true);
    assert.equal(n % 8n, 0n, "header length is a multiple of 8");
    const headerText = new TextDecoder().decode(file.subarray(8, 8 + Number(n)));
    assert.match(headerText, /^\{.*\} *$/s, "header is JSON padded with spaces");
    const trimmed = headerText.trimEnd();
    assert.ok(Number(n) - trimmed.length < 8, "at most 7 bytes of padding");
    const header = JSON.parse(trimmed) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
    assert.deepEqual(header.__metadata__, { note: "x" });
    const dataStart = 8 + Number(n);
    const entries = Object.entries(header)
      .filter(([k]) => k !== "__metadata__")
      .map(([k, v]) => [k, v as { dtype: string; shape: number[]; data_offsets: [number, number] }] as const)
      .sort((x, y) => x[1].data_offsets[0] - y[1].data_offsets[0] || x[1].data_offsets[1] - y[1].data_offsets[1]);
    assert.equal(entries.length, 7);
    let pos = 0;
    const size: Record<string, number> = { F64: 8, I64: 8, F32: 4, F16: 2, BOOL: 1, U8: 1, I8: 1 };
    for (const [name, e] of entries) {
      assert.equal(e.data_offsets[0], pos, `${name} starts where the previous tensor ends`);
      const itemSize = size[e.dtype] ?? 0;
      assert.equal(e.data_offsets[1] - e.data_offsets[0], numelOf(e.shape) * itemSize, `${name} byte size`);
      assert.equal((dataStart + e.data_offsets[0]) % itemSize, 0, `${name} is aligned in the file`);
      pos = e.data_offsets[1];
    }
    assert.equal(dataStart + pos, file.length, "no trailing bytes");
    // Layout: larger elements first, then by name.
    assert.deepEqual(
      entries.filter(([, e]) => e.data_offsets[1] > e.data_offsets[0]).map(([k]) => k),
      ["m.i64", "s.f64", "b.f32", "a.f16", "q.i8", "z.bool"],
    );
    assert.equal(header["s.f64"] && (header["s.f64"] as { shape: number[] }).shape.length, 0);
    // The bytes at each offset are the tensors' bytes.
    for (const [name, e] of entries) {
      const got = file.subarray(dataStart + e.data_offsets[0], dataStart + e.data_offsets[1]);
      assert.equal(hex(got), hex(src[name]?.bytes() ?? new Uint8Array([1])), name);
    }
  });
});

// ---------------------------------------------------------------------------
// Files: readHeader, only, device

test("readHeader returns names, dtypes, shapes and metadata without loading tensors", () => {
  T.tidy(() => {
    const path = join(freshDir(), "h.safetensors");
    saveFile(path, { w: T.zeros([4, 5], { dtype: "bfloat16" }), b: T.zeros([5], { dtype: "int16" }), s: T.zeros([]) }, { epoch: "3" });
  });
  const path = join(work, `d${dirCount - 1}`, "h.safetensors");
  const before = T.memory().numTensors;
  const h = readHeader(path);
  assert.equal(T.memory().numTensors, before, "no tensors were created");
  assert.deepEqual(h.metadata, { epoch: "3" });
  // Data-buffer order: 4-byte elements first, then the 2-byte ones by name.
  assert.deepEqual([...h.tensors.keys()], ["s", "b", "w"]);
  assert.deepEqual(h.tensors.get("b"), { dtype: "int16", shape: [5], dataOffsets: [4, 14] });
  assert.deepEqual(h.tensors.get("w"), { dtype: "bfloat16", shape: [4, 5], dataOffsets: [14, 54] });
  assert.deepEqual(h.tensors.get("s"), { dtype: "float32", shape: [], dataOffsets: [0, 4] });
  assert.equal(h.dataLength, 54);
  assert.equal(h.dataStart % 8, 0);
});

test("loadFile({only}) loads just the named tensors and names missing ones", () => {
  T.tidy(() => {
    const path = join(freshDir(), "only.safetensors");
    saveFile(path, { a: T.tensor([1, 2]), b: T.tensor([3]), c: T.tensor([[4, 5]]) });
    const before = T.memory().numTensors;
    const { tensors } = loadFile(path, { only: ["c", "a"], device: "cpu" });
    assert.equal(T.memory().numTensors, before + 2);
    assert.deepEqual([...tensors.keys()].sort(), ["a", "c"]);
    assert.deepEqual(tensors.get("c")?.toArray(), [4, 5]);
    assert.equal(tensors.get("a")?.device, "cpu");
    disposeAll(tensors);
    assertThrowsMatching(() => loadFile(path, { only: ["a", "nope"] }), /only\.safetensors/, /no tensor named "nope"/, /it holds: a, b, c/);
    assert.equal(T.memory().numTensors, before);
  });
});

test("loadFile and readHeader name the file when it is missing or corrupt", () => {
  const dir = freshDir();
  const missing = join(dir, "missing.safetensors");
  assertThrowsMatching(() => loadFile(missing), /missing\.safetensors/, /cannot open the file/, /ENOENT/);
  const short = join(dir, "short.safetensors");
  writeFileSync(short, new Uint8Array([1, 2, 3]));
  assertThrowsMatching(() => readHeader(short), new RegExp(`safetensors: ${short.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: file is 3 bytes long`), /shorter than the 8-byte/);
  const truncated = join(dir, "truncated.safetensors");
  const good = T.tidy(() => serialize({ a: T.zeros([10]), b: T.zeros([3], { dtype: "int64" }) }));
  writeFileSync(truncated, good.subarray(0, good.length - 5));
  assertThrowsMatching(() => loadFile(truncated), /truncated\.safetensors: the file is truncated/, /5 bytes missing/);
  assertThrowsMatching(() => readHeader(truncated), /the file is truncated/);
});

// ---------------------------------------------------------------------------
// Atomic writes

test("saveFile leaves no file and no temporary file when a tensor fails mid-write", () => {
  T.tidy(() => {
    const dir = freshDir();
    const path = join(dir, "fail.safetensors");
    const a = T.tensor(new Float64Array([1, 2, 3])); // written first (8-byte elements)
    const b = T.tensor([1, 2, 3]); // float32, written second
    b.bytes = () => {
      throw new Error("simulated read failure");
    };
    assertThrowsMatching(() => saveFile(path, { a, b }), /fail\.safetensors/, /could not read the data of tensor "b": simulated read failure/, /nothing was saved/);
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("saveFile survives a tensor disposed mid-way: the old file stays intact, no temp file", () => {
  T.tidy(() => {
    const dir = freshDir();
    const path = join(dir, "model.safetensors");
    saveFile(path, { w: T.tensor([9, 8, 7]) }, { version: "1" });
    const original = readFileSync(path);
    const first = T.tensor(new Float64Array([1, 2])); // laid out first
    const second = T.tensor([3, 4]); // laid out second
    const realBytes = first.bytes.bind(first);
    first.bytes = () => {
      second.dispose(); // something frees the next tensor while the file is being written
      return realBytes();
    };
    assertThrowsMatching(() => saveFile(path, { first, second }, { version: "2" }), /model\.safetensors/, /tensor "second"/, /disposed/, /nothing was saved/);
    assert.deepEqual(readFileSync(path), original);
    assert.deepEqual(readdirSync(dir), ["model.safetensors"]);
    assert.deepEqual(loadFile(path).metadata, { version: "1" });
  });
});

test("saveFile cleans up its temporary file when the rename fails", () => {
  T.tidy(() => {
    const dir = freshDir();
    const path = join(dir, "target");
    mkdirSync(path);
    writeFileSync(join(path, "occupant"), "x"); // a non-empty directory cannot be replaced by a file
    assertThrowsMatching(() => saveFile(path, { a: T.ones([2]) }), /could not rename the temporary file/, /nothing was saved/);
    assert.deepEqual(readdirSync(dir), ["target"]);
    assert.deepEqual(leftovers(dir), []);
  });
});

test("saveFile into a missing directory fails cleanly", () => {
  T.tidy(() => {
    const dir = join(freshDir(), "does", "not", "exist");
    assertThrowsMatching(() => saveFile(join(dir, "x.safetensors"), { a: T.ones([2]) }), /could not create a temporary file in/, /ENOENT/);
    assert.equal(existsSync(dir), false);
  });
});

test("saving rejects disposed tensors, unsupported dtypes, reserved names and non-string metadata up front", () => {
  T.tidy(() => {
    const dir = freshDir();
    const dead = T.ones([2]);
    dead.dispose();
    assertThrowsMatching(() => saveFile(join(dir, "a"), { dead }), /tensor "dead" is disposed/, /keep\(\)/);
    const c128 = T.zeros([2], { dtype: "complex128" });
    assertThrowsMatching(() => serialize({ c128 }), /safetensors: buffer: /, /dtype complex128, which safetensors cannot store/);
    assertThrowsMatching(() => serialize({ __metadata__: T.ones([1]) }), /"__metadata__" is reserved/);
    const bad = { n: 3 } as unknown as Record<string, string>;
    assertThrowsMatching(() => serialize({ a: T.ones([1]) }, bad), /metadata value for key "n" is number/, /string-to-string/);
    assert.deepEqual(readdirSync(dir), []);
  });
});

// ---------------------------------------------------------------------------
// Validation of corrupt data

const F32x2 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

test("rejects buffers shorter than 8 bytes", () => {
  expectError(new Uint8Array(0), /buffer is 0 bytes long, shorter than the 8-byte header-length prefix/, /truncated/);
  expectError(new Uint8Array(7), /7 bytes long/);
  let caught: unknown;
  try {
    deserialize(new Uint8Array(3), { name: "checkpoint.bin" });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SafetensorsError);
  assert.match(caught.message, /^safetensors: checkpoint\.bin: /);
  assert.equal(caught.source, "checkpoint.bin");
});

test("rejects a header length larger than the file or over 100 MB", () => {
  expectError(craft({ a: F32x2 }, 8, 1000n), /header length prefix says 1000 bytes but only \d+ bytes follow/, /truncated/);
  expectError(craft("{}", 0, 200_000_000n), /200000000 bytes, more than the 100000000-byte limit/);
  expectError(craft("{}", 0, 2n ** 64n - 1n), /more than the 100000000-byte limit/);
  // A PyTorch zip checkpoint starts with "PK\x03\x04": a huge length.
  expectError(new Uint8Array([0x50, 0x4b, 3, 4, 20, 0, 0, 0, 0, 0]), /limit/);
  expectError(craft("", 4), /too short for a JSON object/);
});

test("rejects headers that are not valid JSON, not UTF-8, or not an object", () => {
  expectError(craft('{"a": {"dtype": "F32",'), /header is not valid JSON/, /not a safetensors file/);
  expectError(craft('{"a": 1} x'), /not valid JSON/, /after the end of the JSON value/);
  expectError(craft("{'a': 1}"), /not valid JSON/, /expected a string key/);
  expectError(craft('{"a": 01}'), /not valid JSON/);
  expectError(craft('{"a": "\u0001"}'), /not valid JSON/, /control character/);
  expectError(craft("[1, 2]"), /header must be a JSON object/, /but it is a list/);
  expectError(craft('"hello"'), /header must be a JSON object/, /the string "hello"/);
  expectError(craft("null"), /header must be a JSON object/, /null/);
  const notUtf8 = craft('{"a":"xx"}');
  notUtf8[8 + 6] = 0xff;
  expectError(notUtf8, /header is not valid UTF-8/);
  expectError(craft("[".repeat(1000)), /nesting deeper than 64 levels/);
  expectError(craft({ a: 5 }), /tensor "a": header entry must be an object/, /the number 5/);
});

test("rejects unknown dtypes", () => {
  expectError(craft({ a: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, 2), /tensor "a" has unknown or unsupported dtype "F8_E4M3"/, /supported dtypes are F64, F32/);
  expectError(craft({ a: { dtype: "f32", shape: [2], data_offsets: [0, 8] } }, 8), /unsupported dtype "f32"/);
  expectError(craft({ a: { dtype: 7, shape: [2], data_offsets: [0, 8] } }, 8), /"dtype" must be a string/);
  expectError(craft({ a: { shape: [2], data_offsets: [0, 8] } }, 8), /"dtype" must be a string such as "F32" but is nothing/);
});

test("rejects shapes that are not lists of non-negative integers", () => {
  const bad: unknown[] = [[-1], [1.5], ["2"], [true], 3, null, [[2]], [2 ** 53]];
  for (const shape of bad) {
    expectError(craft({ a: { dtype: "F32", shape, data_offsets: [0, 8] } }, 8), /tensor "a": "shape" must be a list of non-negative integers/);
  }
  expectError(craft('{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', 8), /"shape" must be .* but is \[2\.0\]/);
  expectError(craft('{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', 8), /"shape" must be/);
  expectError(craft('{"a":{"dtype":"F32","shape":[-0, 2],"data_offsets":[0,0]}}'), /"shape" must be/);
});

test("rejects data_offsets that are not [begin, end] with end >= begin", () => {
  const bad: unknown[] = [[8, 0], [0], [0, 8, 16], [-8, 0], [0, "8"], "0,8", undefined];
  for (const data_offsets of bad) {
    expectError(craft({ a: { dtype: "F32", shape: [2], data_offsets } }, 8), /tensor "a": "data_offsets" must be \[begin, end\] with non-negative integers and end >= begin/);
  }
});

test("rejects byte sizes that do not match numel * itemsize", () => {
  expectError(
    craft({ a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }, 20),
    /tensor "a" \(F32, shape \[2, 3\]\) needs 24 bytes \(6 elements x 4 bytes\) but its data_offsets \[0, 20\] span 20 bytes/,
  );
  expectError(craft({ a: { dtype: "BF16", shape: [], data_offsets: [0, 4] } }, 4), /needs 2 bytes/);
  expectError(craft({ a: { dtype: "I64", shape: [0], data_offsets: [0, 8] } }, 8), /needs 0 bytes/);
  // Products beyond 2^53 are computed exactly, not rounded.
  expectError(craft({ a: { dtype: "U8", shape: [4294967296, 4294967296], data_offsets: [0, 8] } }, 8), /needs 18446744073709551616 bytes/);
});

test("rejects truncated data and says how many bytes are missing", () => {
  const full = T.tidy(() => serialize({ a: T.zeros([4]), b: T.zeros([2], { dtype: "float64" }) }));
  expectError(full.subarray(0, full.length - 3), /the file is truncated: the header describes 32 bytes of tensor data but only 29 bytes follow the header \(3 bytes missing/, /re-download or re-export/);
  expectError(craft({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, 0), /16 bytes missing; the last tensor, "a", ends at byte 16/);
});

test("rejects overlapping tensors, holes and trailing bytes in the data buffer", () => {
  expectError(
    craft({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, 16),
    /tensors "a" \(bytes \[0, 16\]\) and "b" \(bytes \[8, 16\]\) overlap in the data buffer/,
  );
  expectError(
    craft({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 8),
    /overlap/,
  );
  expectError(
    craft({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [12, 20] } }, 20),
    /hole in the data buffer: 4 unused bytes between "a" \(ends at byte 8\) and "b" \(begins at byte 12\)/,
  );
  expectError(craft({ a: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 12), /hole in the data buffer: 4 unused bytes between the start of the data buffer and "a"/);
  expectError(craft({ a: F32x2 }, 11), /3 bytes of unused data after the last tensor/);
  // Empty tensors may sit anywhere in the sequence, even at the same offset.
  T.tidy(() => {
    const ok = deserialize(
      craft({ a: F32x2, e: { dtype: "I64", shape: [0, 3], data_offsets: [8, 8] }, f: { dtype: "U8", shape: [0], data_offsets: [8, 8] }, z: { dtype: "U8", shape: [0], data_offsets: [0, 0] } }, 8),
    );
    assert.deepEqual(ok.tensors.get("e")?.shape, [0, 3]);
    assert.equal(ok.tensors.size, 4);
  });
});

test("rejects non-string metadata values and non-object metadata", () => {
  expectError(craft({ __metadata__: { epoch: 3 } }), /"__metadata__" value for key "epoch" must be a string but is the number 3/, /JSON\.stringify/);
  expectError(craft({ __metadata__: { nested: { a: "b" } } }), /key "nested" must be a string but is an object/);
  expectError(craft({ __metadata__: ["a"] }), /"__metadata__" must be an object of string keys to string values, but it is a list/);
  // null metadata is the same as none (as in the reference implementation).
  assert.deepEqual(deserialize(craft({ __metadata__: null })).metadata, {});
});

test("rejects duplicate tensor names and duplicate keys", () => {
  const e = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  expectError(craft(`{"w":${e},"w":${e}}`, 8), /the name "w" appears more than once in the header; tensor names must be unique/);
  expectError(craft(`{"w":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, 8), /duplicate key "dtype" inside "w"/);
  expectError(craft(`{"__metadata__":{"k":"a","k":"b"}}`), /duplicate key "k" inside "__metadata__"/);
  // Escaped and literal spellings of one name are the same name.
  expectError(craft(`{"w":${e},"\\u0077":${e}}`, 8), /"w" appears more than once/);
});

test("accepts headers written differently: no padding, whitespace, key order, unknown fields", () => {
  T.tidy(() => {
    const data = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const text = '\n {  "__metadata__" : { "k" : "v\\u00e9" } ,\t"x" : { "data_offsets" : [ 0 , 8 ] , "shape" : [ 2 ] , "dtype" : "F32", "extra": {"a": [1, null, true]} } }';
    const { tensors, metadata } = deserialize(craft(text, data));
    assert.deepEqual(metadata, { k: "vé" });
    assertClose(tensors.get("x")?.data() ?? [], [1.5, -2]);
  });
});

// ---------------------------------------------------------------------------
// Interop with Python

interface Expected {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, { dtype: T.DType; code: string; shape: number[]; bytes_hex: string; values: (number | string)[] }>;
}

test("reads a file written by Python (test/fixtures/make_safetensors_fixture.py)", () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, "python_written.json"), "utf8")) as Expected;
  const path = join(FIXTURES, "python_written.safetensors");
  const header = readHeader(path);
  assert.deepEqual([...header.tensors.keys()], expected.order);
  assert.deepEqual(header.metadata, expected.metadata);
  T.tidy(() => {
    const { tensors, metadata } = loadFile(path);
    assert.deepEqual(metadata, expected.metadata);
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected.tensors).sort());
    for (const [name, want] of Object.entries(expected.tensors)) {
      const t = tensors.get(name);
      assert.ok(t !== undefined, name);
      assert.equal(t.dtype, want.dtype, `${name}: dtype`);
      assert.deepEqual(t.shape, want.shape, `${name}: shape`);
      assert.equal(hex(t.bytes()), want.bytes_hex, `${name}: bytes`);
      const data = t.data();
      if (data instanceof BigInt64Array) {
        assert.deepEqual(Array.from(data, String), want.values, `${name}: values`);
      } else {
        assert.deepEqual(Array.from(data), want.values, `${name}: values`);
      }
    }
    assert.equal(tensors.get("scalar.f64")?.item(), 3.141592653589793);
    assert.deepEqual(tensors.get("mask.bool")?.toArray(), [1, 0, 1, 0, 0, 1]);
    // Re-saving what Python wrote reproduces the same tensors.
    assertSameTensors(deserialize(serialize(tensors, metadata)).tensors, tensors);
  });
});

test("a file written here is read back correctly by an independent Python reader", () => {
  // scripts/setup.sh guarantees a python3 (node-gyp needs one); the verifier uses only its standard library.
  const python = "python3";
  const dir = freshDir();
  const path = join(dir, "from_ts.safetensors");
  const expectedPath = join(dir, "from_ts.json");
  T.tidy(() => {
    const tensors: TensorDict = {
      "w.f32": T.tensor([[1.5, -2], [0.25, 3e-5]]),
      "w.bf16": T.tensor([1, -2.5, 3.140625, 0.0078125], undefined, { dtype: "bfloat16" }),
      "w.f16": T.tensor([65504, -0.5, 6.103515625e-5], undefined, { dtype: "float16" }),
      "w.f64": T.full([], Math.E, { dtype: "float64" }),
      "n.i64": T.tensor(new BigInt64Array([-(2n ** 40n), 2n ** 52n + 1n])),
      "n.i32": T.tensor(new Int32Array([-2147483648, 7])),
      "n.i16": T.tensor(new Int16Array([-32768, 32767])),
      "n.i8": T.tensor(new Int8Array([-128, 5])),
      "n.u8": T.tensor(new Uint8Array([0, 200, 255])).reshape(3, 1),
      "mask": T.tensor([[true, false, true]]),
      "empty": T.zeros([2, 0], { dtype: "float16" }),
    };
    const expected = {
      metadata: { producer: "safetensors.test.ts", "ü": "→" },
      tensors: {
        "w.f32": { dtype: "F32", shape: [2, 2], values: Array.from(new Float32Array([1.5, -2, 0.25, 3e-5])) },
        "w.bf16": { dtype: "BF16", shape: [4], values: [1, -2.5, 3.140625, 0.0078125] },
        "w.f16": { dtype: "F16", shape: [3], values: [65504, -0.5, 6.103515625e-5] },
        "w.f64": { dtype: "F64", shape: [], values: [Math.E] },
        "n.i64": { dtype: "I64", shape: [2], values: [String(-(2n ** 40n)), String(2n ** 52n + 1n)] },
        "n.i32": { dtype: "I32", shape: [2], values: [-2147483648, 7] },
        "n.i16": { dtype: "I16", shape: [2], values: [-32768, 32767] },
        "n.i8": { dtype: "I8", shape: [2], values: [-128, 5] },
        "n.u8": { dtype: "U8", shape: [3, 1], values: [0, 200, 255] },
        mask: { dtype: "BOOL", shape: [1, 3], values: [1, 0, 1] },
        empty: { dtype: "F16", shape: [2, 0], values: [] },
      },
    };
    saveFile(path, tensors, expected.metadata);
    writeFileSync(expectedPath, JSON.stringify(expected));
  });
  const r = spawnSync(python, [join(FIXTURES, "make_safetensors_fixture.py"), "--verify", path, expectedPath], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `python verifier failed:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout.trim(), "ok");
});
