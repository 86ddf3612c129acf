// `moediff-sr info [FILE]`: without FILE, what the engine runs on; with a NIfTI
// FILE, its grid, datatype, orientation, affine and intensity range.
// The tensor engine is imported only in the no-FILE branch, so `info FILE` works
// even where the native addon is missing.
import type { Command } from "commander";
import { mat4ToRows, orientationCode, readNifti, type NiftiImage } from "../../nifti/index.js";
import { parseNonFinite, xformCodeText } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { dataRange } from "../../volume/volume.js";

interface InfoOptions {
  json?: boolean;
  nonFinite: "error" | "zero";
}

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show the libtorch version, threads and devices; or, given a NIfTI file, its header and intensity range")
    .argument("[file]", "a NIfTI image (.nii or .nii.gz)")
    .option("--json", "print JSON")
    .option("--non-finite <mode>", "NaN/Inf voxels in FILE: error or zero", parseNonFinite, "error")
    .action(async (file: string | undefined, opts: InfoOptions) => {
      if (file === undefined) await engineInfo(opts.json === true);
      else fileInfo(file, opts);
    });
}

async function engineInfo(json: boolean): Promise<void> {
  const T = await import("../../torch/index.js");
  const info = {
    libtorch: T.libtorchVersion(),
    threads: T.getNumThreads(),
    cuda: T.cuda.isAvailable(),
    cudaDevices: T.cuda.deviceCount(),
    blas: T.blasLibrary(),
    cpuAllocator: T.cpuAllocatorStats().active ? "caching" : "libtorch's own",
    node: process.version,
  };
  if (json) {
    console.log(JSON.stringify(info));
    return;
  }
  console.log(`libtorch     ${info.libtorch}`);
  console.log(`threads      ${info.threads}`);
  console.log(`cuda         ${info.cuda ? `yes (${info.cudaDevices} device(s))` : "no"}`);
  console.log(`blas         ${info.blas ?? "unknown"}`);
  console.log(`allocator    ${info.cpuAllocator} (CPU tensors)`);
  console.log(`node         ${info.node}`);
}


/** What `info FILE --json` prints. */
export function describeImage(file: string, im: NiftiImage): Record<string, unknown> {
  const [min, max] = dataRange(im.data);
  return {
    file,
    format: `NIfTI-${im.version}`,
    byteOrder: im.littleEndian ? "little" : "big",
    compressed: im.compressed,
    dims: im.dims,
    frames: im.dims[3] ?? 1,
    voxelSize: im.voxelSize,
    pixdim: im.pixdim,
    units: { spatial: im.spatialUnit, temporal: im.temporalUnit },
    datatype: im.datatype,
    datatypeCode: im.datatypeCode,
    orientation: orientationCode(im.affine),
    affine: mat4ToRows(im.affine),
    affineSource: im.affineSource,
    qformCode: im.qformCode,
    sformCode: im.sformCode,
    qfac: im.qfac,
    scaling: { slope: im.sclSlope, inter: im.sclInter, applied: im.scaled },
    range: { min, max },
    nonFiniteZeroed: im.nonFiniteZeroed,
    description: im.description,
  };
}

function fileInfo(file: string, opts: InfoOptions): void {
  const im = readNifti(file, { nonFinite: opts.nonFinite });
  const d = describeImage(file, im);
  if (opts.json === true) {
    console.log(JSON.stringify(d));
    return;
  }
  const [min, max] = dataRange(im.data);
  const frames = im.dims[3];
  const lines: [string, string][] = [
    ["file", file],
    ["format", `NIfTI-${im.version}, ${im.littleEndian ? "little" : "big"}-endian${im.compressed ? ", gzip" : ""}`],
    ["dims", im.dims.slice(0, 3).join(" x ") + (frames !== undefined ? ` x ${frames} frame${frames === 1 ? "" : "s"}` : "")],
    ["voxel size", `${im.voxelSize.map(fmt).join(" x ")} mm` + (im.spatialUnit !== "mm" ? ` (file units: ${im.spatialUnit})` : "")],
    ["datatype", `${im.datatype} (code ${im.datatypeCode})`],
    ["scaling", im.scaled ? `stored * ${fmt(im.sclSlope)} ${im.sclInter < 0 ? "-" : "+"} ${fmt(Math.abs(im.sclInter))} (applied)` : "none"],
    ["orientation", orientationCode(im.affine)],
    ["qform code", xformCodeText(im.qformCode) + (im.qformCode > 0 ? `, qfac ${im.qfac}` : "")],
    ["sform code", xformCodeText(im.sformCode)],
    ["affine", `voxel to world (mm), from the ${im.affineSource}:`],
  ];
  const rows = mat4ToRows(im.affine).map((r) => "  " + r.map((v) => v.toFixed(4).padStart(11)).join(""));
  const tail: [string, string][] = [
    ["range", `${fmt(min)} to ${fmt(max)}`],
    ...(im.nonFiniteZeroed > 0 ? [["non-finite", `${im.nonFiniteZeroed} NaN/Inf voxels set to 0`] as [string, string]] : []),
    ["description", JSON.stringify(im.description)],
  ];
  for (const [k, v] of lines) console.log(`${k.padEnd(13)}${v}`);
  for (const r of rows) console.log(r);
  for (const [k, v] of tail) console.log(`${k.padEnd(13)}${v}`);
}
