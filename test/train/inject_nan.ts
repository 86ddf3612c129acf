// Damages a safetensors file the way the issue did: 4 bytes of a float32 NaN written over the first
// element of one tensor, everything else (header, size) unchanged.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

/** Overwrites the first element of float32 tensor `name` (default: the first float32 tensor by offset) with NaN; returns its name. */
export function injectNaN(path: string, name?: string): string {
  const buf = readFileSync(path);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const entries = Object.entries(header).filter(([k, v]) => k !== "__metadata__" && v.dtype === "F32" && v.data_offsets[1] > v.data_offsets[0]);
  const chosen = name === undefined ? entries.sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0])[0] : entries.find(([k]) => k === name);
  if (chosen === undefined) throw new Error(`injectNaN: ${path} has no float32 tensor ${name ?? ""}`);
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.from([0x00, 0x00, 0xc0, 0x7f]), 0, 4, 8 + headerLength + chosen[1].data_offsets[0]);
  } finally {
    closeSync(fd);
  }
  return chosen[0];
}
