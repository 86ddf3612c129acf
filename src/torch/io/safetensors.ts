// Reading and writing the safetensors format (https://github.com/huggingface/safetensors).
//
// Layout of a file:
//   8 bytes    little-endian u64 N, the length of the header
//   N bytes    UTF-8 JSON object:
//                { "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                  ...,
//                  "__metadata__": {"<key>": "<string value>", ...} }     (optional)
//   the data   the tensors' raw little-endian bytes, row-major; data_offsets are
//              relative to the start of this buffer
//
// Reading validates the header as strictly as the reference implementation does
// (every byte of the data buffer belongs to exactly one tensor, sizes match
// shapes, ...), plus duplicate keys, which JSON.parse would silently merge; hence
// the small JSON parser below. Loaded tensors own copies of their bytes: nothing
// aliases the file buffer.
//
// Writing lays tensors out by element size (largest first), then by name, so
// every tensor starts at a multiple of its element size (the header is padded
// with spaces to a multiple of 8 bytes). saveFile() writes a temporary file in
// the target's directory, fsyncs it and renames it into place.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import "../tensor_methods.js"; // Tensor's op-backed methods, for a caller that imports this module without index.ts
import { ITEM_SIZE, type DType } from "../dtype.js";
import type { Device } from "../device.js";
import { fromBytes } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import { AtomicWriteError, writeFileAtomic } from "../../util/atomic_write.js";

/** Thrown for malformed safetensors data and for tensors that cannot be saved. */
export class SafetensorsError extends Error {
  /** The file path, "buffer", or the name given to deserialize(). */
  readonly source: string;
  /** The message without the "safetensors: <source>: " prefix. */
  readonly problem: string;
  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(`safetensors: ${source}: ${problem}`, options);
    this.name = "SafetensorsError";
    this.source = source;
    this.problem = problem;
  }
}

/** The largest header accepted (as in the reference implementation). */
export const MAX_HEADER_SIZE = 100_000_000;

const METADATA_KEY = "__metadata__";

/** safetensors dtype codes and the engine's dtypes they stand for. */
const CODE_TO_DTYPE: ReadonlyMap<string, DType> = new Map<string, DType>([
  ["F64", "float64"],
  ["F32", "float32"],
  ["F16", "float16"],
  ["BF16", "bfloat16"],
  ["I64", "int64"],
  ["I32", "int32"],
  ["I16", "int16"],
  ["I8", "int8"],
  ["U8", "uint8"],
  ["BOOL", "bool"],
  ["C64", "complex64"],
]);

const DTYPE_TO_CODE: ReadonlyMap<DType, string> = new Map([...CODE_TO_DTYPE].map(([code, dtype]) => [dtype, code]));

/** The safetensors code ("F32", "BF16", ...) for an engine dtype, or undefined if the format has none. */
export function safetensorsDtypeCode(dtype: DType): string | undefined {
  return DTYPE_TO_CODE.get(dtype);
}

/** The engine dtype for a safetensors code, or undefined if it is not supported here. */
export function dtypeFromSafetensorsCode(code: string): DType | undefined {
  return CODE_TO_DTYPE.get(code);
}

/** What the header says about one tensor. */
export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

/** A parsed header: tensors in data-buffer order, and the metadata. */
export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Byte offset of the data buffer in the file (8 + header length). */
  dataStart: number;
  /** Length of the data buffer in bytes. */
  dataLength: number;
}

export interface LoadOptions {
  /** Where the loaded tensors go (default: the default device). */
  device?: Device;
}

export interface DeserializeOptions extends LoadOptions {
  /** Names the buffer in error messages (default "buffer"). */
  name?: string;
}

export interface LoadFileOptions extends LoadOptions {
  /** Load only these tensors (all must exist). The whole header is still validated. */
  only?: readonly string[];
}

export interface Loaded {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export type TensorDict = Record<string, Tensor> | ReadonlyMap<string, Tensor>;

// ---------------------------------------------------------------------------
// A strict JSON parser: reports duplicate keys, keeps number literals, bounds nesting.

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const INTEGER_RE = /^-?(?:0|[1-9][0-9]*)$/;

class JsonNumber {
  constructor(readonly raw: string) {}
  get value(): number {
    return Number(this.raw);
  }
  /** Written without fraction or exponent. */
  get isIntegerLiteral(): boolean {
    return INTEGER_RE.test(this.raw);
  }
}

type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | Map<string, JsonValue>;

class JsonSyntaxError extends Error {}

const MAX_DEPTH = 64;

class JsonParser {
  #s: string;
  #i = 0;
  constructor(text: string) {
    this.#s = text;
  }

  parseDocument(): JsonValue {
    this.#ws();
    const v = this.#value(0, []);
    this.#ws();
    if (this.#i < this.#s.length) this.#fail(`unexpected ${this.#describe()} after the end of the JSON value`);
    return v;
  }

  #fail(msg: string): never {
    throw new JsonSyntaxError(`${msg} at character ${this.#i}`);
  }

  #describe(): string {
    if (this.#i >= this.#s.length) return "end of header";
    return `character ${JSON.stringify(this.#s[this.#i])}`;
  }

  #ws(): void {
    const s = this.#s;
    let i = this.#i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.#i = i;
  }

  #value(depth: number, path: readonly string[]): JsonValue {
    const c = this.#s[this.#i];
    switch (c) {
      case "{":
        return this.#object(depth + 1, path);
      case "[":
        return this.#array(depth + 1, path);
      case '"':
        return this.#string();
      case "t":
        return this.#literal("true", true);
      case "f":
        return this.#literal("false", false);
      case "n":
        return this.#literal("null", null);
      default:
        if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.#number();
        this.#fail(`unexpected ${this.#describe()}`);
    }
  }

  #literal<T>(word: string, value: T): T {
    if (this.#s.startsWith(word, this.#i)) {
      this.#i += word.length;
      return value;
    }
    this.#fail(`unexpected ${this.#describe()}`);
  }

  #number(): JsonNumber {
    const m = NUMBER_RE;
    m.lastIndex = this.#i;
    const r = m.exec(this.#s);
    if (r === null || r[0] === "-") this.#fail("malformed number");
    this.#i += r[0].length;
    return new JsonNumber(r[0]);
  }

  #string(): string {
    const s = this.#s;
    let i = this.#i + 1; // past the opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= s.length) {
        this.#i = i;
        this.#fail("unterminated string");
      }
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(start, i);
        this.#i = i + 1;
        return out;
      }
      if (c < 0x20) {
        this.#i = i;
        this.#fail("control character in string");
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(start, i);
      const e = s[i + 1];
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          i += 2;
          break;
        case "b":
          out += "\b";
          i += 2;
          break;
        case "f":
          out += "\f";
          i += 2;
          break;
        case "n":
          out += "\n";
          i += 2;
          break;
        case "r":
          out += "\r";
          i += 2;
          break;
        case "t":
          out += "\t";
          i += 2;
          break;
        case "u": {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.#i = i;
            this.#fail("bad \\u escape in string");
          }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          break;
        }
        default:
          this.#i = i;
          this.#fail("bad escape in string");
      }
      start = i;
    }
  }

  #array(depth: number, path: readonly string[]): JsonValue[] {
    if (depth > MAX_DEPTH) this.#fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.#i++; // [
    const out: JsonValue[] = [];
    this.#ws();
    if (this.#s[this.#i] === "]") {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      out.push(this.#value(depth, path));
      this.#ws();
      const c = this.#s[this.#i];
      if (c === ",") {
        this.#i++;
      } else if (c === "]") {
        this.#i++;
        return out;
      } else {
        this.#fail(`expected ',' or ']' but found ${this.#describe()}`);
      }
    }
  }

  #object(depth: number, path: readonly string[]): Map<string, JsonValue> {
    if (depth > MAX_DEPTH) this.#fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.#i++; // {
    const out = new Map<string, JsonValue>();
    this.#ws();
    if (this.#s[this.#i] === "}") {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] !== '"') this.#fail(`expected a string key but found ${this.#describe()}`);
      const key = this.#string();
      if (out.has(key)) {
        throw new DuplicateKeyError(key, path);
      }
      this.#ws();
      if (this.#s[this.#i] !== ":") this.#fail(`expected ':' but found ${this.#describe()}`);
      this.#i++;
      this.#ws();
      out.set(key, this.#value(depth, [...path, key]));
      this.#ws();
      const c = this.#s[this.#i];
      if (c === ",") {
        this.#i++;
      } else if (c === "}") {
        this.#i++;
        return out;
      } else {
        this.#fail(`expected ',' or '}' but found ${this.#describe()}`);
      }
    }
  }
}

class DuplicateKeyError extends Error {
  constructor(
    readonly key: string,
    readonly path: readonly string[],
  ) {
    super(`duplicate key ${JSON.stringify(key)}`);
  }
}

function jsonKind(v: JsonValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (v instanceof JsonNumber) return `the number ${v.raw}`;
  if (Array.isArray(v)) return "a list";
  if (v instanceof Map) return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  return `the boolean ${String(v)}`;
}

function jsonText(v: JsonValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (v instanceof JsonNumber) return v.raw;
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) {
    const t = `[${v.map(jsonText).join(", ")}]`;
    return t.length > 80 ? t.slice(0, 77) + "..." : t;
  }
  return "an object";
}

// ---------------------------------------------------------------------------
// Reading

const SUPPORTED = [...CODE_TO_DTYPE.keys()].join(", ");
const NOT_SAFETENSORS = "the data is corrupt or is not a safetensors file";

/** Reads the 8-byte header length and checks it against the total size. */
function checkPrefix(prefix: Uint8Array, totalSize: number, src: string, kind: "file" | "buffer"): number {
  if (totalSize < 8) {
    throw new SafetensorsError(
      src,
      `${kind} is ${totalSize} bytes long, shorter than the 8-byte header-length prefix every safetensors file starts with; it is empty or truncated (re-download or re-export it)`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(
      src,
      `header length prefix says ${n} bytes, more than the ${MAX_HEADER_SIZE}-byte limit; ${NOT_SAFETENSORS} (is it a PyTorch .pt/.bin checkpoint?)`,
    );
  }
  const len = Number(n);
  if (8 + len > totalSize) {
    throw new SafetensorsError(
      src,
      `header length prefix says ${len} bytes but only ${totalSize - 8} bytes follow the prefix; the file is truncated (${8 + len - totalSize} bytes of header missing) or ${NOT_SAFETENSORS}`,
    );
  }
  if (len < 2) {
    throw new SafetensorsError(src, `header length prefix says ${len} bytes, too short for a JSON object; ${NOT_SAFETENSORS}`);
  }
  return len;
}

function nonNegativeInt(v: JsonValue | undefined): number | undefined {
  if (!(v instanceof JsonNumber) || !v.isIntegerLiteral || v.raw.startsWith("-")) return undefined;
  const x = v.value;
  return Number.isSafeInteger(x) && x >= 0 ? x : undefined;
}

/** Parses and validates a header; dataLength is the number of bytes after the header. */
function parseHeader(headerBytes: Uint8Array, headerLength: number, dataLength: number, src: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(src, `header is not valid UTF-8; ${NOT_SAFETENSORS}`);
  }
  let root: JsonValue;
  try {
    root = new JsonParser(text).parseDocument();
  } catch (e) {
    if (e instanceof DuplicateKeyError) {
      if (e.path.length === 0) {
        throw new SafetensorsError(
          src,
          `the name ${JSON.stringify(e.key)} appears more than once in the header; tensor names must be unique (the file is corrupt)`,
        );
      }
      throw new SafetensorsError(
        src,
        `duplicate key ${JSON.stringify(e.key)} inside ${JSON.stringify(e.path.join("."))} in the header; ${NOT_SAFETENSORS}`,
      );
    }
    if (e instanceof JsonSyntaxError) {
      throw new SafetensorsError(src, `header is not valid JSON (${e.message}); ${NOT_SAFETENSORS}`);
    }
    throw e;
  }
  if (!(root instanceof Map)) {
    throw new SafetensorsError(
      src,
      `header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}, but it is ${jsonKind(root)}; ${NOT_SAFETENSORS}`,
    );
  }

  const metadata: Record<string, string> = {};
  const entries: [string, TensorInfo][] = [];
  for (const [name, entry] of root) {
    if (name === METADATA_KEY) {
      if (entry === null) continue;
      if (!(entry instanceof Map)) {
        throw new SafetensorsError(src, `"${METADATA_KEY}" must be an object of string keys to string values, but it is ${jsonKind(entry)}`);
      }
      for (const [k, v] of entry) {
        if (typeof v !== "string") {
          throw new SafetensorsError(
            src,
            `"${METADATA_KEY}" value for key ${JSON.stringify(k)} must be a string but is ${jsonKind(v)}; safetensors metadata is string-to-string (write numbers and structures as strings, e.g. with JSON.stringify)`,
          );
        }
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const what = `tensor ${JSON.stringify(name)}`;
    if (!(entry instanceof Map)) {
      throw new SafetensorsError(src, `${what}: header entry must be an object {dtype, shape, data_offsets} but is ${jsonKind(entry)}; ${NOT_SAFETENSORS}`);
    }
    const code = entry.get("dtype");
    if (typeof code !== "string") {
      throw new SafetensorsError(src, `${what}: "dtype" must be a string such as "F32" but is ${jsonKind(code)}; ${NOT_SAFETENSORS}`);
    }
    const dtype = CODE_TO_DTYPE.get(code);
    if (dtype === undefined) {
      throw new SafetensorsError(
        src,
        `${what} has unknown or unsupported dtype ${JSON.stringify(code)}; supported dtypes are ${SUPPORTED} (convert the tensor to one of them, e.g. in Python, before saving)`,
      );
    }
    const rawShape = entry.get("shape");
    const shape = Array.isArray(rawShape) ? rawShape.map(nonNegativeInt) : undefined;
    if (shape === undefined || shape.some((d) => d === undefined)) {
      throw new SafetensorsError(src, `${what}: "shape" must be a list of non-negative integers but is ${jsonText(rawShape)}; ${NOT_SAFETENSORS}`);
    }
    const rawOffsets = entry.get("data_offsets");
    const offsets = Array.isArray(rawOffsets) ? rawOffsets.map(nonNegativeInt) : undefined;
    const begin = offsets?.[0];
    const end = offsets?.[1];
    if (offsets === undefined || offsets.length !== 2 || begin === undefined || end === undefined || end < begin) {
      throw new SafetensorsError(
        src,
        `${what}: "data_offsets" must be [begin, end] with non-negative integers and end >= begin but is ${jsonText(rawOffsets)}; ${NOT_SAFETENSORS}`,
      );
    }
    const dims = shape as number[];
    const itemSize = ITEM_SIZE[dtype];
    const numel = dims.reduce((a, d) => a * BigInt(d), 1n);
    const need = numel * BigInt(itemSize);
    if (need !== BigInt(end - begin)) {
      throw new SafetensorsError(
        src,
        `${what} (${code}, shape [${dims.join(", ")}]) needs ${need} bytes (${numel} elements x ${itemSize} bytes) but its data_offsets [${begin}, ${end}] span ${end - begin} bytes; the header is inconsistent (the file is corrupt: re-export it)`,
      );
    }
    entries.push([name, { dtype, shape: dims, dataOffsets: [begin, end] }]);
  }

  // Every byte of the data buffer must belong to exactly one tensor.
  entries.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let pos = 0;
  let prev: [string, TensorInfo] | undefined;
  for (const e of entries) {
    const [begin, end] = e[1].dataOffsets;
    if (begin < pos && prev !== undefined) {
      const [pb, pe] = prev[1].dataOffsets;
      throw new SafetensorsError(
        src,
        `tensors ${JSON.stringify(prev[0])} (bytes [${pb}, ${pe}]) and ${JSON.stringify(e[0])} (bytes [${begin}, ${end}]) overlap in the data buffer; every byte must belong to exactly one tensor (the file is corrupt: re-export it)`,
      );
    }
    if (begin > pos) {
      const where = prev === undefined ? "the start of the data buffer" : `${JSON.stringify(prev[0])} (ends at byte ${pos})`;
      throw new SafetensorsError(
        src,
        `hole in the data buffer: ${begin - pos} unused bytes between ${where} and ${JSON.stringify(e[0])} (begins at byte ${begin}); the reference implementation rejects such files (the file is corrupt: re-export it)`,
      );
    }
    pos = end;
    prev = e;
  }
  if (pos > dataLength) {
    const last = prev === undefined ? "" : `; the last tensor, ${JSON.stringify(prev[0])}, ends at byte ${pos}`;
    throw new SafetensorsError(
      src,
      `the file is truncated: the header describes ${pos} bytes of tensor data but only ${dataLength} bytes follow the header (${pos - dataLength} bytes missing${last}); re-download or re-export it`,
    );
  }
  if (pos < dataLength) {
    throw new SafetensorsError(
      src,
      `${dataLength - pos} bytes of unused data after the last tensor (the tensors end at byte ${pos} of a ${dataLength}-byte data buffer); the reference implementation rejects such files (the file is corrupt or was appended to)`,
    );
  }
  return { tensors: new Map(entries), metadata, dataStart: 8 + headerLength, dataLength };
}

function makeTensors(
  header: SafetensorsHeader,
  names: Iterable<string>,
  read: (begin: number, end: number) => Uint8Array,
  options: LoadOptions,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const name of names) {
      const info = header.tensors.get(name);
      if (info === undefined) continue;
      const bytes = read(info.dataOffsets[0], info.dataOffsets[1]);
      // fromBytes copies into storage the tensor owns.
      out.set(name, fromBytes(bytes, info.shape, info.dtype, options.device === undefined ? undefined : { device: options.device }));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/** Parses safetensors bytes. The returned tensors own copies of their data. */
export function deserialize(bytes: Uint8Array, options: DeserializeOptions = {}): Loaded {
  const src = options.name ?? "buffer";
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`safetensors: ${src}: deserialize expects a Uint8Array`);
  const n = checkPrefix(bytes.subarray(0, 8), bytes.length, src, "buffer");
  const header = parseHeader(bytes.subarray(8, 8 + n), n, bytes.length - 8 - n, src);
  const data = bytes.subarray(header.dataStart);
  const tensors = makeTensors(header, header.tensors.keys(), (b, e) => data.subarray(b, e), options);
  return { tensors, metadata: header.metadata };
}

/** Parses just the header of safetensors bytes (validating it against the buffer's length). */
export function deserializeHeader(bytes: Uint8Array, options: { name?: string } = {}): SafetensorsHeader {
  const src = options.name ?? "buffer";
  const n = checkPrefix(bytes.subarray(0, 8), bytes.length, src, "buffer");
  return parseHeader(bytes.subarray(8, 8 + n), n, bytes.length - 8 - n, src);
}

function readExactly(fd: number, length: number, position: number, path: string): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const got = readSync(fd, buf, done, length - done, position + done);
    if (got === 0) {
      throw new SafetensorsError(path, `the file ended after ${position + done} bytes while reading (it shrank while being read?)`);
    }
    done += got;
  }
  return buf;
}

function openForReading(path: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SafetensorsError(path, `cannot open the file: ${msg}`, { cause: e });
  }
}

function headerOfFd(fd: number, path: string): SafetensorsHeader {
  const size = fstatSync(fd).size;
  const prefix = size >= 8 ? readExactly(fd, 8, 0, path) : new Uint8Array(8);
  const n = checkPrefix(prefix, size, path, "file");
  return parseHeader(readExactly(fd, n, 8, path), n, size - 8 - n, path);
}

/** Reads and validates only the header of a safetensors file (tensor names, dtypes, shapes, metadata). */
export function readHeader(path: string): SafetensorsHeader {
  const fd = openForReading(path);
  try {
    return headerOfFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** Loads a safetensors file (or only some of its tensors). */
export function loadFile(path: string, options: LoadFileOptions = {}): Loaded {
  const fd = openForReading(path);
  try {
    const header = headerOfFd(fd, path);
    let names: Iterable<string> = header.tensors.keys();
    if (options.only !== undefined) {
      const missing = options.only.filter((n) => !header.tensors.has(n));
      if (missing.length > 0) {
        const have = [...header.tensors.keys()];
        const shown = have.length > 20 ? `${have.slice(0, 20).join(", ")}, ... (${have.length} in all)` : have.join(", ");
        throw new SafetensorsError(
          path,
          `no tensor named ${missing.map((m) => JSON.stringify(m)).join(", ")} in the file; it holds: ${shown || "(no tensors)"}`,
        );
      }
      const wanted = new Set(options.only);
      names = [...header.tensors.keys()].filter((n) => wanted.has(n));
    }
    const tensors = makeTensors(header, names, (b, e) => readExactly(fd, e - b, header.dataStart + b, path), options);
    return { tensors, metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Writing

interface Planned {
  name: string;
  tensor: Tensor;
  begin: number;
  end: number;
}

interface Plan {
  header: Uint8Array; // the 8-byte prefix and the padded JSON
  tensors: Planned[];
  dataLength: number;
}

function entriesOf(tensors: TensorDict): [string, Tensor][] {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, Tensor>)];
  return Object.entries(tensors as Record<string, Tensor>);
}

/** Decides the layout and builds the header; reads only dtypes and shapes. */
function plan(tensors: TensorDict, metadata: Record<string, string> | undefined, src: string): Plan {
  const items: { name: string; tensor: Tensor; code: string; shape: readonly number[]; itemSize: number; size: number }[] = [];
  for (const [name, tensor] of entriesOf(tensors)) {
    if (name === METADATA_KEY) {
      throw new SafetensorsError(src, `"${METADATA_KEY}" is reserved for metadata and cannot name a tensor; rename the tensor`);
    }
    if (tensor === null || typeof tensor !== "object" || typeof tensor.bytes !== "function") {
      throw new SafetensorsError(src, `the value for ${JSON.stringify(name)} is not a Tensor`);
    }
    if (tensor.isDisposed) {
      throw new SafetensorsError(src, `tensor ${JSON.stringify(name)} is disposed; keep() it (or save inside the tidy() that made it)`);
    }
    const dtype = tensor.dtype;
    const code = DTYPE_TO_CODE.get(dtype);
    if (code === undefined) {
      throw new SafetensorsError(src, `tensor ${JSON.stringify(name)} has dtype ${dtype}, which safetensors cannot store; convert it first (supported: ${[...DTYPE_TO_CODE.keys()].join(", ")})`);
    }
    const shape = tensor.shape;
    const itemSize = ITEM_SIZE[dtype];
    const size = shape.reduce((a, d) => a * d, itemSize);
    if (!Number.isSafeInteger(size)) throw new SafetensorsError(src, `tensor ${JSON.stringify(name)} is too large to save`);
    items.push({ name, tensor, code, shape, itemSize, size });
  }
  // Largest elements first keeps each tensor aligned to its element size; then by name.
  items.sort((a, b) => b.itemSize - a.itemSize || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const parts: string[] = [];
  const meta = metadata === undefined ? [] : Object.entries(metadata);
  if (meta.length > 0) {
    for (const [k, v] of meta) {
      if (typeof v !== "string") {
        throw new SafetensorsError(src, `metadata value for key ${JSON.stringify(k)} is ${typeof v}, but safetensors metadata is string-to-string; convert it, e.g. with JSON.stringify`);
      }
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  }
  const planned: Planned[] = [];
  let offset = 0;
  for (const it of items) {
    const begin = offset;
    offset += it.size;
    planned.push({ name: it.name, tensor: it.tensor, begin, end: offset });
    parts.push(`${JSON.stringify(it.name)}:{"dtype":${JSON.stringify(it.code)},"shape":[${it.shape.join(",")}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_SIZE) {
    throw new SafetensorsError(src, `the header would be ${padded} bytes, more than the ${MAX_HEADER_SIZE}-byte limit readers accept; save fewer tensors or less metadata per file`);
  }
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, tensors: planned, dataLength: offset };
}

function tensorBytes(p: Planned, src: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = p.tensor.bytes();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SafetensorsError(src, `could not read the data of tensor ${JSON.stringify(p.name)}: ${msg}`, { cause: e });
  }
  if (bytes.length !== p.end - p.begin) {
    throw new SafetensorsError(
      src,
      `tensor ${JSON.stringify(p.name)} gave ${bytes.length} bytes but its dtype and shape need ${p.end - p.begin} (was it modified while being saved?)`,
    );
  }
  return bytes;
}

/** Encodes tensors (and string metadata) as safetensors bytes. */
export function serialize(tensors: TensorDict, metadata?: Record<string, string>): Uint8Array {
  const src = "buffer";
  const p = plan(tensors, metadata, src);
  const out = new Uint8Array(p.header.length + p.dataLength);
  out.set(p.header, 0);
  for (const t of p.tensors) out.set(tensorBytes(t, src), p.header.length + t.begin);
  return out;
}

/**
 * Writes tensors to a safetensors file atomically: the data goes to a temporary
 * file in the same directory, which is fsynced and then renamed over `path`.
 * On failure the temporary file is removed and `path` is untouched.
 */
export function saveFile(path: string, tensors: TensorDict, metadata?: Record<string, string>): void {
  const p = plan(tensors, metadata, path);
  try {
    writeFileAtomic(path, (write) => {
      write(p.header);
      for (const t of p.tensors) write(tensorBytes(t, path));
    });
  } catch (e) {
    if (!(e instanceof AtomicWriteError)) throw e;
    const problem = e.cause instanceof SafetensorsError ? e.cause.problem : e.message;
    throw new SafetensorsError(path, `${problem}; nothing was saved (the temporary file was removed)`, { cause: e.cause });
  }
}
