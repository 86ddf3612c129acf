// Reading PyTorch checkpoint files (torch.save, torch >= 1.6 ZIP format) and
// picking the right reader for a tensor file by its magic bytes.
//
// A torch.save archive holds `<name>/data.pkl` (a pickle of the saved object in
// which every storage is a persistent id ('storage', torch.FloatStorage, key,
// location, numel)), the raw little-endian storages as `<name>/data/<key>`,
// `<name>/version` and, since torch 2.1, `<name>/byteorder` ("little" or "big";
// absent means little, as every file written on x86/ARM hosts).
//
// data.pkl runs in the pickle VM of pickle.ts under the allow-list of
// torch_pickle.ts (OrderedDict, the tensor/parameter rebuild functions, storage
// classes, ...). Anything else is refused: nothing from the file is ever executed.
//
// Unpickling yields TensorRefs (storage, offset, size, stride); tensors are made
// only for the keys asked for, and only their storages are read, so loading the
// `features` of a 528 MB torchvision VGG-16 file reads ~59 MB. Each tensor is a
// contiguous copy (strides and offsets applied through as_strided), so views
// that shared a storage in Python come back as independent tensors.
//
// Design decisions:
// - The legacy (pre-1.6) pickle-stream format (also that of torchvision's
//   original downloads, e.g. vgg16-397923af.pth) and TorchScript archives are
//   refused with a message saying how to re-save the file (the brief asks for
//   refusal; a legacy reader would fit in the same pickle VM if wanted).
// - Big-endian archives are byte-swapped on load.
// - loadPth() wants a flat dict of tensors (a state dict); a checkpoint that
//   nests it (e.g. {"model": state_dict, "epoch": 3}) is refused with the keys it
//   holds, rather than guessing which entry is meant. readPth() returns the
//   whole object for callers that want to navigate it.
import { closeSync, openSync, readSync } from "node:fs";
import * as T from "../../index.js";
import { TorchFileError } from "./errors.js";
import { describe } from "./pickle.js";
import { StorageRef, TensorRef, unpickleTorch } from "./torch_pickle.js";
import { ZipError, ZipReader } from "./zip.js";

export { TorchFileError } from "./errors.js";
export { StorageRef, TensorRef } from "./torch_pickle.js";

export type TensorFileFormat = "pytorch-zip" | "safetensors" | "pytorch-legacy" | "pickle" | "unknown";

/** What kind of tensor file `path` is, from its first bytes (the extension is ignored). */
export function detectTensorFileFormat(path: string): TensorFileFormat {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new TorchFileError(path, `cannot open the file: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const head = Buffer.alloc(16);
  let n: number;
  try {
    n = readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05) && (head[3] === 0x04 || head[3] === 0x06)) {
    return "pytorch-zip";
  }
  if (n >= 9 && head[8] === 0x7b) {
    const len = head.readBigUInt64LE(0);
    if (len >= 2n && len <= 100_000_000n) return "safetensors";
  }
  if (n >= 2 && head[0] === 0x80 && (head[1] as number) >= 2 && (head[1] as number) <= 5) {
    // The legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c (LONG1, 10 bytes).
    const legacyMagic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    return legacyMagic.every((b, i) => head[2 + i] === b) ? "pytorch-legacy" : "pickle";
  }
  return "unknown";
}

/** An opened torch.save archive: the unpickled object and access to its storages. */
export class PthArchive {
  /** The saved object; tensors appear as TensorRef. */
  readonly root: unknown;
  readonly byteOrder: "little" | "big";
  /** The archive's record prefix ("archive" or the file stem at save time). */
  readonly prefix: string;
  readonly #zip: ZipReader;

  private constructor(zip: ZipReader, prefix: string, byteOrder: "little" | "big", root: unknown) {
    this.#zip = zip;
    this.prefix = prefix;
    this.byteOrder = byteOrder;
    this.root = root;
  }

  static open(path: string): PthArchive {
    checkFormat(path, "pytorch-zip");
    let zip: ZipReader;
    try {
      zip = ZipReader.open(path);
    } catch (e) {
      throw e instanceof ZipError ? new TorchFileError(path, `not a readable torch.save archive: ${e.problem}`, { cause: e }) : e;
    }
    try {
      const prefix = findPrefix(zip, path);
      const byteOrderEntry = `${prefix}/byteorder`;
      let byteOrder: "little" | "big" = "little";
      if (zip.has(byteOrderEntry)) {
        const text = new TextDecoder().decode(readEntry(zip, byteOrderEntry, path)).trim();
        if (text !== "little" && text !== "big") throw new TorchFileError(path, `unknown byte order '${text}' in ${byteOrderEntry}`);
        byteOrder = text;
      }
      const root = unpickleTorch(readEntry(zip, `${prefix}/data.pkl`, path), `${path}: ${prefix}/data.pkl`, path);
      return new PthArchive(zip, prefix, byteOrder, root);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  /**
   * A contiguous tensor with the values of `ref` (a copy: it shares nothing with
   * other tensors). `storageCache` lets several tensors reuse one storage read.
   */
  materialize(ref: TensorRef, options: { device?: T.Device; storageCache?: Map<string, T.Tensor> } = {}): T.Tensor {
    const { storage, shape, stride, storageOffset } = ref;
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel > 0) {
      let last = storageOffset;
      for (let i = 0; i < shape.length; i++) last += ((shape[i] as number) - 1) * (stride[i] as number);
      if (last >= storage.numel) {
        throw new TorchFileError(
          this.#zip.path,
          `a tensor of shape [${shape.join(", ")}], stride [${stride.join(", ")}], offset ${storageOffset} reaches element ${last} of storage '${storage.key}', which has ${storage.numel} elements; the file is corrupt`,
        );
      }
    }
    const out = T.empty(shape, { dtype: storage.dtype, device: options.device });
    if (numel === 0) return out;
    let base = options.storageCache?.get(storage.key);
    const owned = base === undefined;
    try {
      if (base === undefined) {
        base = this.#storageTensor(storage);
        options.storageCache?.set(storage.key, base);
      }
      const view = asStrided.tensor(base, shape, stride, storageOffset);
      try {
        out.copy_(view);
      } finally {
        view.dispose();
      }
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      if (owned && options.storageCache === undefined) base?.dispose();
    }
    return out;
  }

  #storageTensor(storage: StorageRef): T.Tensor {
    const entry = `${this.prefix}/data/${storage.key}`;
    const path = this.#zip.path;
    if (!this.#zip.has(entry)) throw new TorchFileError(path, `storage '${storage.key}' (${entry}) is missing from the archive; the file is corrupt`);
    const bytes = readEntry(this.#zip, entry, path);
    const itemSize = T.ITEM_SIZE[storage.dtype];
    if (bytes.length !== storage.numel * itemSize) {
      throw new TorchFileError(path, `storage '${storage.key}' holds ${bytes.length} bytes, but ${storage.numel} ${storage.dtype} elements need ${storage.numel * itemSize}; the file is corrupt`);
    }
    if (this.byteOrder === "big") byteSwap(bytes, storage.dtype === "complex64" || storage.dtype === "complex128" ? itemSize / 2 : itemSize);
    return T.fromBytes(bytes, [storage.numel], storage.dtype, { device: "cpu" });
  }

  close(): void {
    this.#zip.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const asStrided = new T.Op("aten::as_strided");

function byteSwap(bytes: Uint8Array, size: number): void {
  if (size <= 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a] as number;
      bytes[a] = bytes[b] as number;
      bytes[b] = t;
    }
  }
}

function readEntry(zip: ZipReader, name: string, path: string): Uint8Array {
  try {
    return zip.read(name);
  } catch (e) {
    throw e instanceof ZipError ? new TorchFileError(path, e.problem, { cause: e }) : e;
  }
}

function checkFormat(path: string, expected: TensorFileFormat): void {
  const format = detectTensorFileFormat(path);
  if (format === expected) return;
  switch (format) {
    case "pytorch-legacy":
      throw new TorchFileError(
        path,
        "the file is in PyTorch's legacy (pre-1.6, non-zip) serialization format, which is not supported (torchvision's original downloads such as vgg16-397923af.pth use it); " +
          "re-save it once in Python: torch.save(torch.load(path), new_path, _use_new_zipfile_serialization=True), or convert it to safetensors",
      );
    case "pickle":
      throw new TorchFileError(path, "the file is a bare Python pickle, not a torch.save archive; re-save the tensors with torch.save (torch >= 1.6) or as safetensors");
    case "safetensors":
      throw new TorchFileError(path, "the file is safetensors, not a torch.save archive; load it with loadTensorFile()");
    case "pytorch-zip":
      throw new TorchFileError(path, `expected ${expected}, found a torch.save archive`);
    case "unknown":
      throw new TorchFileError(
        path,
        "the file is neither a torch.save archive (ZIP, torch >= 1.6) nor safetensors (its first bytes match neither); it may be truncated, corrupt, or another format",
      );
  }
}

function findPrefix(zip: ZipReader, path: string): string {
  const names = [...zip.entries.keys()];
  const prefixes = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n)).map((n) => n.slice(0, -"/data.pkl".length));
  if (prefixes.length === 1) {
    const prefix = prefixes[0] as string;
    if (zip.has(`${prefix}/constants.pkl`) || names.some((n) => n.startsWith(`${prefix}/code/`))) {
      throw new TorchFileError(
        path,
        "this is a TorchScript archive (torch.jit.save), not a torch.save state dict; in Python: torch.save(torch.jit.load(path).state_dict(), 'weights.pth')",
      );
    }
    return prefix;
  }
  if (prefixes.length === 0) throw new TorchFileError(path, "a ZIP archive without '<name>/data.pkl', so not a torch.save checkpoint");
  throw new TorchFileError(path, `the archive holds several pickles (${prefixes.map((p) => `${p}/data.pkl`).join(", ")}); expected one`);
}

/** Opens a torch.save archive and unpickles it (tensors as TensorRef). Close the result when done. */
export function readPth(path: string): PthArchive {
  return PthArchive.open(path);
}

export interface LoadTensorsOptions {
  /** Where tensors go (default: the default device). */
  device?: T.Device;
  /** Loads only the keys for which this returns true (others are not even read). */
  only?: (key: string) => boolean;
}

/**
 * Loads a state dict (a flat dict of tensors) saved with torch.save. Tensors
 * keep their dtype, are contiguous, and do not require grad.
 */
export function loadPth(path: string, options: LoadTensorsOptions = {}): Map<string, T.Tensor> {
  const archive = PthArchive.open(path);
  const out = new Map<string, T.Tensor>();
  const cache = new Map<string, T.Tensor>();
  try {
    const root = archive.root;
    if (!(root instanceof Map)) {
      throw new TorchFileError(path, `the file holds a ${describe(root)}, not a state dict (a dict of tensors); save model.state_dict() with torch.save`);
    }
    const wanted: [string, TensorRef][] = [];
    for (const [key, value] of root) {
      if (typeof key !== "string") throw new TorchFileError(path, `the state dict has a non-string key (${describe(key)})`);
      if (options.only !== undefined && !options.only(key)) continue;
      if (!(value instanceof TensorRef)) {
        const keys = [...root.keys()].map(String);
        const shown = keys.length > 10 ? `${keys.slice(0, 10).join(", ")}, ... (${keys.length} in all)` : keys.join(", ");
        throw new TorchFileError(
          path,
          `entry '${key}' is a ${describe(value)}, not a tensor: the file is not a plain state dict (its keys: ${shown}). If it is a training checkpoint, save the model's state_dict() on its own with torch.save`,
        );
      }
      wanted.push([key, value]);
    }
    // Read each storage once; free the storages as soon as their last tensor is made.
    const remaining = new Map<string, number>();
    for (const [, ref] of wanted) remaining.set(ref.storage.key, (remaining.get(ref.storage.key) ?? 0) + 1);
    for (const [key, ref] of wanted) {
      out.set(key, archive.materialize(ref, { device: options.device, storageCache: cache }));
      const left = (remaining.get(ref.storage.key) ?? 1) - 1;
      remaining.set(ref.storage.key, left);
      if (left === 0) {
        cache.get(ref.storage.key)?.dispose();
        cache.delete(ref.storage.key);
      }
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    for (const t of cache.values()) t.dispose();
    archive.close();
  }
}

/**
 * Loads a flat dict of tensors from a torch.save archive or a safetensors
 * file, whichever the file's magic bytes say it is (not its extension).
 */
export function loadTensorFile(path: string, options: LoadTensorsOptions = {}): Map<string, T.Tensor> {
  const format = detectTensorFileFormat(path);
  if (format === "safetensors") {
    const names = [...T.io.readHeader(path).tensors.keys()];
    const only = options.only === undefined ? names : names.filter(options.only);
    return T.io.loadFile(path, { only, device: options.device }).tensors;
  }
  checkFormat(path, "pytorch-zip");
  return loadPth(path, options);
}
