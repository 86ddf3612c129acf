// Options shared by the creation functions.
import { getDefaultDevice, parseDevice, type Device } from "../device.js";
import { dtypeCode, getDefaultDType, type DType } from "../dtype.js";
import type { Generator } from "../generator.js";

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

export function resolveOptions(o: TensorOptions | undefined, dtype: DType = getDefaultDType()): [number, string] {
  return [dtypeCode(o?.dtype ?? dtype), parseDevice(o?.device ?? getDefaultDevice())];
}

export function checkShape(shape: readonly number[], what: string): readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${what}: shape must be an array of integers`);
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`${what}: shape entries must be non-negative integers, got [${shape.join(", ")}]`);
  }
  return shape;
}
