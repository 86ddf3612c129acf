// Data types: names as in PyTorch (without the `torch.` prefix), codes as c10::ScalarType.

export type DType =
  | "uint8"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "float16"
  | "float32"
  | "float64"
  | "complex64"
  | "complex128"
  | "bool"
  | "bfloat16";

const CODES: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  complex64: 9,
  complex128: 10,
  bool: 11,
  bfloat16: 15,
};

const BY_CODE = new Map<number, DType>(Object.entries(CODES).map(([k, v]) => [v, k as DType]));

export const DTYPES: readonly DType[] = Object.keys(CODES) as DType[];

/** Bytes per element. */
export const ITEM_SIZE: Record<DType, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
  complex64: 8,
  complex128: 16,
  bool: 1,
  bfloat16: 2,
};

export function dtypeCode(dtype: DType): number {
  const code = CODES[dtype];
  if (code === undefined) throw new TypeError(`unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(", ")}`);
  return code;
}

export function dtypeFromCode(code: number): DType {
  const dtype = BY_CODE.get(code);
  if (dtype === undefined) throw new TypeError(`libtorch returned scalar type ${code}, which this binding does not support`);
  return dtype;
}

export function isFloatingPoint(dtype: DType): boolean {
  return dtype === "float16" || dtype === "float32" || dtype === "float64" || dtype === "bfloat16";
}

export function isComplex(dtype: DType): boolean {
  return dtype === "complex64" || dtype === "complex128";
}

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array;

/** The dtype a typed array naturally holds. */
export function dtypeOfTypedArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Int16Array) return "int16";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Uint8Array) return "uint8";
  if (a instanceof BigInt64Array) return "int64";
  throw new TypeError("unsupported typed array");
}

let defaultDType: DType = "float32";

/** The floating-point dtype new tensors get when none is given (like torch.set_default_dtype). */
export function getDefaultDType(): DType {
  return defaultDType;
}

export function setDefaultDType(dtype: DType): void {
  if (!isFloatingPoint(dtype)) throw new TypeError(`setDefaultDType: ${dtype} is not a floating-point dtype`);
  defaultDType = dtype;
}
