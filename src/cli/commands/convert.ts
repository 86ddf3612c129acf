// `moediff-sr convert IN OUT`: rewrite a NIfTI image (another datatype, .nii <-> .nii.gz,
// NIfTI-1 <-> NIfTI-2), keeping the grid, every frame and the affine.
import type { Command } from "commander";
import { orientationCode, readNifti, writeNifti, type NiftiDtype } from "../../nifti/index.js";
import { parseDtype, parseNonFinite } from "../nifti_options.js";
import { checkNiftiOutput } from "../output_check.js";

interface ConvertOptions {
  dtype: NiftiDtype;
  nonFinite: "error" | "zero";
  description?: string;
  nifti2?: boolean;
}

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description("rewrite a NIfTI image with another datatype or compression, keeping its affine (.nii.gz by the output name)")
    .argument("<in>", "input NIfTI image (.nii or .nii.gz)")
    .argument("<out>", "output NIfTI image (.nii or .nii.gz)")
    .option(
      "--dtype <type>",
      "output datatype: uint8, int8, int16, uint16, int32, float32, float64 (integers: rounded half away from zero, then clamped to the range)",
      parseDtype,
      "float32",
    )
    .option("--non-finite <mode>", "NaN/Inf voxels in the input: error or zero", parseNonFinite, "error")
    .option("--description <text>", "header description (default: the input's)")
    .option("--nifti2", "write a NIfTI-2 header (default NIfTI-1)")
    .action((input: string, output: string, opts: ConvertOptions) => {
      checkNiftiOutput(output, "OUTPUT");
      const im = readNifti(input, { nonFinite: opts.nonFinite });
      const r = writeNifti(output, im, {
        dtype: opts.dtype,
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.nifti2 === true ? { version: 2 as const } : {}),
      });
      if (im.nonFiniteZeroed > 0) process.stderr.write(`moediff-sr: note: ${im.nonFiniteZeroed} NaN/Inf input voxels were set to 0\n`);
      if (r.clamped > 0) process.stderr.write(`moediff-sr: warning: ${r.clamped} values were outside the ${r.dtype} range and were clamped\n`);
      if (r.rounded > 0) process.stderr.write(`moediff-sr: note: ${r.rounded} non-integer values were rounded to ${r.dtype} (halves away from zero)\n`);
      console.log(
        `wrote ${output}: ${im.dims.join("x")} ${r.dtype}, NIfTI-${r.version}${r.compressed ? ", gzip" : ""}, ` +
          `${orientationCode(im.affine)}, ${r.fileBytes} bytes`,
      );
    });
}
