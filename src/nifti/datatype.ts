// NIfTI datatypes: the codes of nifti1.h, which of them we read and write, and the
// conversions between their on-disk bytes and Float32Array.
//
// Reading: the voxel bytes are copied (the caller's buffer is never touched),
// byte-swapped if the file's byte order is not the machine's, viewed as the typed
// array of the datatype, scaled by scl_slope/scl_inter in double precision and
// stored as float32.
//
// Writing float32/float64: the values as they are (float64 is exact). Writing an
// integer type: each value is rounded to the nearest integer, halves away from
// zero (2.5 -> 3, -2.5 -> -3, as C's lround), then clamped to the type's range
// (the number of clamped values is reported); NaN and +-Inf cannot be stored in an
// integer type and are an error.

/** Datatype codes from nifti1.h (NIFTI_TYPE_*), supported or not. */
export const enum DatatypeCode {
  BINARY = 1,
  UINT8 = 2,
  INT16 = 4,
  INT32 = 8,
  FLOAT32 = 16,
  COMPLEX64 = 32,
  FLOAT64 = 64,
  RGB24 = 128,
  INT8 = 256,
  UINT16 = 512,
  UINT32 = 768,
  INT64 = 1024,
  UINT64 = 1280,
  FLOAT128 = 1536,
  COMPLEX128 = 1792,
  COMPLEX256 = 2048,
  RGBA32 = 2304,
}

/** The datatypes this module reads and writes. */
export type NiftiDtype = "uint8" | "int8" | "int16" | "uint16" | "int32" | "float32" | "float64";

export const NIFTI_DTYPES: readonly NiftiDtype[] = ["uint8", "int8", "int16", "uint16", "int32", "float32", "float64"];

interface DtypeInfo {
  code: DatatypeCode;
  bytes: number;
  /** Range of an integer type; undefined for floating point. */
  range?: readonly [number, number];
}

const INFO: Readonly<Record<NiftiDtype, DtypeInfo>> = {
  uint8: { code: DatatypeCode.UINT8, bytes: 1, range: [0, 255] },
  int8: { code: DatatypeCode.INT8, bytes: 1, range: [-128, 127] },
  int16: { code: DatatypeCode.INT16, bytes: 2, range: [-32768, 32767] },
  uint16: { code: DatatypeCode.UINT16, bytes: 2, range: [0, 65535] },
  int32: { code: DatatypeCode.INT32, bytes: 4, range: [-2147483648, 2147483647] },
  float32: { code: DatatypeCode.FLOAT32, bytes: 4 },
  float64: { code: DatatypeCode.FLOAT64, bytes: 8 },
};

/** Bytes per voxel. */
export function dtypeBytes(dtype: NiftiDtype): number {
  return INFO[dtype].bytes;
}

/** The nifti1.h code of a dtype. */
export function dtypeCode(dtype: NiftiDtype): number {
  return INFO[dtype].code;
}

/** [min, max] of an integer dtype, undefined for float32/float64. */
export function dtypeRange(dtype: NiftiDtype): readonly [number, number] | undefined {
  return INFO[dtype].range;
}

export function isNiftiDtype(s: string): s is NiftiDtype {
  return (NIFTI_DTYPES as readonly string[]).includes(s);
}

/** The name nifti1.h gives a code ("complex64", "rgb24", ...), or "unknown". */
export function datatypeName(code: number): string {
  switch (code) {
    case DatatypeCode.BINARY:
      return "binary";
    case DatatypeCode.UINT8:
      return "uint8";
    case DatatypeCode.INT16:
      return "int16";
    case DatatypeCode.INT32:
      return "int32";
    case DatatypeCode.FLOAT32:
      return "float32";
    case DatatypeCode.COMPLEX64:
      return "complex64";
    case DatatypeCode.FLOAT64:
      return "float64";
    case DatatypeCode.RGB24:
      return "rgb24";
    case DatatypeCode.INT8:
      return "int8";
    case DatatypeCode.UINT16:
      return "uint16";
    case DatatypeCode.UINT32:
      return "uint32";
    case DatatypeCode.INT64:
      return "int64";
    case DatatypeCode.UINT64:
      return "uint64";
    case DatatypeCode.FLOAT128:
      return "float128";
    case DatatypeCode.COMPLEX128:
      return "complex128";
    case DatatypeCode.COMPLEX256:
      return "complex256";
    case DatatypeCode.RGBA32:
      return "rgba32";
    default:
      return "unknown";
  }
}

/** The dtype for a datatype code, or undefined when it is not one we read. */
export function dtypeFromCode(code: number): NiftiDtype | undefined {
  switch (code) {
    case DatatypeCode.UINT8:
      return "uint8";
    case DatatypeCode.INT8:
      return "int8";
    case DatatypeCode.INT16:
      return "int16";
    case DatatypeCode.UINT16:
      return "uint16";
    case DatatypeCode.INT32:
      return "int32";
    case DatatypeCode.FLOAT32:
      return "float32";
    case DatatypeCode.FLOAT64:
      return "float64";
    default:
      return undefined;
  }
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the byte order of every `size`-byte element of `b`, in place. */
function swapInPlace(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let o = 0; o + size <= b.length; o += size) {
    for (let lo = o, hi = o + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo] as number;
      b[lo] = b[hi] as number;
      b[hi] = t;
    }
  }
}

type NumericArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Float32Array | Float64Array;

function view(dtype: NiftiDtype, buf: ArrayBuffer): NumericArray {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(buf);
    case "int8":
      return new Int8Array(buf);
    case "int16":
      return new Int16Array(buf);
    case "uint16":
      return new Uint16Array(buf);
    case "int32":
      return new Int32Array(buf);
    case "float32":
      return new Float32Array(buf);
    case "float64":
      return new Float64Array(buf);
  }
}

/**
 * Decodes `count` voxels of `dtype` from `bytes` (exactly count * size bytes, in the
 * given byte order) to float32, applying value * slope + inter when `scale` is given.
 * `bytes` is only read.
 */
export function decodeVoxels(
  bytes: Uint8Array,
  dtype: NiftiDtype,
  littleEndian: boolean,
  scale?: { slope: number; inter: number },
): Float32Array {
  const size = INFO[dtype].bytes;
  const copy = new Uint8Array(bytes); // a copy in its own aligned buffer (Buffer.slice would be a view)
  if (littleEndian !== HOST_LITTLE_ENDIAN) swapInPlace(copy, size);
  const src = view(dtype, copy.buffer);
  if (dtype === "float32" && scale === undefined) return src as Float32Array;
  const out = new Float32Array(src.length);
  if (scale === undefined) {
    for (let i = 0; i < src.length; i++) out[i] = src[i] as number;
  } else {
    const { slope, inter } = scale;
    for (let i = 0; i < src.length; i++) out[i] = (src[i] as number) * slope + inter;
  }
  return out;
}

/** Bytes of `values` encoded as `dtype`, little-endian; see the header comment for the rounding rule. */
export interface Encoded {
  bytes: Uint8Array;
  /** Values outside an integer type's range, clamped to it. */
  clamped: number;
  /** Values that were not integers and were rounded. */
  rounded: number;
}

/**
 * Encodes values as `dtype` (little-endian). Throws a RangeError naming the first
 * non-finite value when the target is an integer type.
 */
export function encodeVoxels(values: ArrayLike<number>, dtype: NiftiDtype): Encoded {
  const n = values.length;
  const buf = new ArrayBuffer(n * INFO[dtype].bytes);
  const out = view(dtype, buf);
  const range = INFO[dtype].range;
  let clamped = 0;
  let rounded = 0;
  if (range === undefined) {
    for (let i = 0; i < n; i++) out[i] = values[i] as number;
  } else {
    const [lo, hi] = range;
    for (let i = 0; i < n; i++) {
      const v = values[i] as number;
      if (!Number.isFinite(v)) {
        throw new RangeError(`value ${v} at voxel index ${i} cannot be stored as ${dtype}`);
      }
      let r = v < 0 ? -Math.round(-v) : Math.round(v); // halves away from zero
      if (r !== v) rounded++;
      if (r < lo) {
        r = lo;
        clamped++;
      } else if (r > hi) {
        r = hi;
        clamped++;
      }
      out[i] = r;
    }
  }
  const bytes = new Uint8Array(buf);
  if (!HOST_LITTLE_ENDIAN) swapInPlace(bytes, INFO[dtype].bytes);
  return { bytes, clamped, rounded };
}
