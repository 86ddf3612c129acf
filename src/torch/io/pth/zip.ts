// A minimal, read-only ZIP archive reader for PyTorch checkpoint files.
//
// torch.save (torch >= 1.6) writes a ZIP archive whose entries are stored
// uncompressed and 64-byte aligned (padding lives in the local headers' extra
// fields). This reader finds the end-of-central-directory record (and its
// ZIP64 variant), lists the entries from the central directory, and reads an
// entry's bytes on demand through a file descriptor, so a 500 MB checkpoint is
// never held in memory whole: only the entries asked for are read. Stored
// (method 0) and deflated (method 8, through node:zlib) entries are supported;
// every entry read is checked against its CRC-32. Anything else (encryption,
// other compression methods, multi-disk archives) is refused with a ZipError.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { inflateRawSync } from "node:zlib";

/** Thrown for anything wrong with the archive; the message names the file. */
export class ZipError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${problem}`, options);
    this.name = "ZipError";
  }
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_EOCD64 = 0x06064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as in ZIP and gzip). */
export function crc32(data: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (table[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u64(buf: Buffer, at: number, path: string, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(path, `${what} (${v}) is too large; the archive is corrupt`);
  return Number(v);
}

/** An open archive. Call close() (or use `using`) when done. */
export class ZipReader {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  readonly #path: string;
  readonly #size: number;
  /** Where the central directory starts: entry data must end before it. */
  readonly #centralStart: number;
  #fd: number;

  private constructor(path: string, fd: number, size: number, entries: Map<string, ZipEntry>, centralStart: number) {
    this.#path = path;
    this.#fd = fd;
    this.#size = size;
    this.entries = entries;
    this.#centralStart = centralStart;
  }

  /** Opens a file and reads its central directory. */
  static open(path: string): ZipReader {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new ZipError(path, `cannot open the file: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    try {
      const size = fstatSync(fd).size;
      const { entries, centralStart } = readCentralDirectory(fd, size, path);
      return new ZipReader(path, fd, size, entries, centralStart);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get path(): string {
    return this.#path;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The uncompressed bytes of one entry, CRC-checked. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ZipError(this.#path, `the archive has no entry '${name}'`);
    const fd = this.#fdOrThrow();
    const local = readAt(fd, entry.localHeaderOffset, 30, this.#path, `the local header of '${name}'`);
    if (local.readUInt32LE(0) !== SIG_LOCAL) {
      throw new ZipError(this.#path, `the local header of '${name}' at byte ${entry.localHeaderOffset} is missing; the archive is corrupt`);
    }
    const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const dataEnd = dataStart + entry.compressedSize;
    if (dataEnd > this.#centralStart) {
      throw new ZipError(this.#path, `entry '${name}' (bytes ${dataStart}..${dataEnd}) runs into the central directory at byte ${this.#centralStart}; the archive is corrupt`);
    }
    const raw = readAt(fd, dataStart, entry.compressedSize, this.#path, `entry '${name}'`);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.uncompressedSize) {
        throw new ZipError(this.#path, `stored entry '${name}' has compressed size ${entry.compressedSize} but uncompressed size ${entry.uncompressedSize}; the archive is corrupt`);
      }
      data = raw;
    } else if (entry.method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (e) {
        throw new ZipError(this.#path, `entry '${name}' does not inflate: ${e instanceof Error ? e.message : String(e)}; the archive is corrupt`, { cause: e });
      }
      if (data.length !== entry.uncompressedSize) {
        throw new ZipError(this.#path, `entry '${name}' inflates to ${data.length} bytes, the directory says ${entry.uncompressedSize}; the archive is corrupt`);
      }
    } else {
      throw new ZipError(this.#path, `entry '${name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are supported (re-save the file with torch.save)`);
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) {
      throw new ZipError(
        this.#path,
        `entry '${name}' fails its CRC-32 check (computed ${crc.toString(16).padStart(8, "0")}, recorded ${entry.crc32.toString(16).padStart(8, "0")}); the file is corrupt (re-download or re-save it)`,
      );
    }
    return data;
  }

  /** Total file size in bytes. */
  get size(): number {
    return this.#size;
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #fdOrThrow(): number {
    if (this.#fd < 0) throw new ZipError(this.#path, "the archive is closed");
    return this.#fd;
  }
}

function readAt(fd: number, position: number, length: number, path: string, what: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const got = readSync(fd, buf, done, length - done, position + done);
    if (got === 0) {
      throw new ZipError(path, `the file ends at byte ${position + done} inside ${what} (bytes ${position}..${position + length}); it is truncated (re-download or re-save it)`);
    }
    done += got;
  }
  return buf;
}

function readCentralDirectory(fd: number, size: number, path: string): { entries: Map<string, ZipEntry>; centralStart: number } {
  if (size < EOCD_SIZE) {
    throw new ZipError(path, `the file is ${size} bytes long, too short to be a ZIP archive; it is empty or truncated`);
  }
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = readAt(fd, tailStart, tailLength, path, "the end of the archive");
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) <= tailLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new ZipError(path, "no end-of-central-directory record: the ZIP archive is truncated or corrupt (re-download or re-save it)");
  }
  if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) {
    throw new ZipError(path, "multi-disk ZIP archives are not supported");
  }
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  const eocdPos = tailStart + eocd;
  let centralEnd = eocdPos;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: a locator (20 bytes) just before the EOCD points at the ZIP64 EOCD record.
    if (eocdPos < 20) throw new ZipError(path, "the ZIP64 end-of-central-directory locator is missing; the archive is corrupt");
    const loc = readAt(fd, eocdPos - 20, 20, path, "the ZIP64 locator");
    if (loc.readUInt32LE(0) !== SIG_EOCD64_LOCATOR) throw new ZipError(path, "the ZIP64 end-of-central-directory locator is missing; the archive is corrupt");
    const recPos = u64(loc, 8, path, "the ZIP64 record offset");
    const rec = readAt(fd, recPos, 56, path, "the ZIP64 end-of-central-directory record");
    if (rec.readUInt32LE(0) !== SIG_EOCD64) throw new ZipError(path, "the ZIP64 end-of-central-directory record is missing; the archive is corrupt");
    count = u64(rec, 32, path, "the entry count");
    cdSize = u64(rec, 40, path, "the central directory size");
    cdOffset = u64(rec, 48, path, "the central directory offset");
    centralEnd = recPos;
  }
  if (cdOffset + cdSize > centralEnd) {
    throw new ZipError(path, `the central directory (bytes ${cdOffset}..${cdOffset + cdSize}) extends past its end record at byte ${centralEnd}; the archive is truncated or corrupt`);
  }
  const cd = readAt(fd, cdOffset, cdSize, path, "the central directory");
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
      throw new ZipError(path, `central directory entry ${i} of ${count} is malformed; the archive is corrupt`);
    }
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let uncompressedSize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cd.length) throw new ZipError(path, `central directory entry ${i} runs past the directory; the archive is corrupt`);
    const name = cd.toString("utf8", p + 46, p + 46 + nameLen);
    if (flags & 1) throw new ZipError(path, `entry '${name}' is encrypted; encrypted archives are not supported`);
    // ZIP64 extended information: 64-bit values for the fields that hold 0xffffffff, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (what: string): number => {
          if (q + 8 > e + 4 + len) throw new ZipError(path, `the ZIP64 field of '${name}' is too short; the archive is corrupt`);
          const v = u64(cd, q, path, `${what} of '${name}'`);
          q += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = next("the size");
        if (compressedSize === 0xffffffff) compressedSize = next("the compressed size");
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next("the offset");
      }
      e += 4 + len;
    }
    if (entries.has(name)) throw new ZipError(path, `the archive lists entry '${name}' twice; it is corrupt`);
    entries.set(name, { name, method, compressedSize, uncompressedSize, crc32: crc, localHeaderOffset });
    p = end;
  }
  return { entries, centralStart: cdOffset };
}
