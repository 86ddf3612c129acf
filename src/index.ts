// moediff-sr as a library: `import { MoEDiffSRPipeline, enhanceVolume, readNifti, writeNifti } from "moediff-sr"`.
//
//   const pipe = MoEDiffSRPipeline.fromDir(DEFAULT_MODEL_DIR);        // or a run of `moediff-sr train`
//   const lr = toVolume(readNifti("sub-01_T1w_3T.nii.gz"));
//   const { output } = await enhanceVolume(pipe, lr);                // the model's own sampler settings
//   writeNifti("sub-01_T1w_7Tlike.nii.gz", output);
//   pipe.dispose();
//
// The public surface: the tensor engine (as `torch`), NIfTI I/O, volumes and resampling, simulated
// acquisitions, the enhancement pipeline, and the metrics `moediff-sr evaluate` reports. Importing it
// loads the native engine; the deeper modules (dist/src/...) stay importable one by one.
export * as torch from "./torch/index.js";

export { NiftiError, readNifti, writeNifti, toVolume, parseNifti, encodeNifti, type NiftiImage, type ReadOptions, type WriteOptions } from "./nifti/index.js";
export { checkVolume, dataRange, type Volume, type Mat4 } from "./volume/volume.js";
export { gridFor, voxelSizes, type Grid, type Vec3 } from "./volume/affine.js";
export { resample, resampleLike, resampleToVoxelSize, type Interpolation, type ResampleOptions } from "./volume/resample.js";
export { orientationCode, reorient, reorientGrid } from "./volume/reorient.js";

export { simulateAcquisition, checkAcquisitionParams, type AcquisitionParams, type SimulateOptions, type SimulationResult } from "./simulate/simulate.js";

export { MoEDiffSRPipeline, ENHANCE_DEFAULTS, EnhanceError, type EnhanceSettings, type SamplingOptions, type TileOutput } from "./inference/pipeline.js";
export { enhanceVolume, type EnhanceOptions, type EnhanceProgress, type EnhanceResult, type EnhanceStats } from "./inference/enhance.js";
export { enhanceVolumeUNet, loadUNetModel, type UNetEnhanceOptions, type UNetEnhanceResult } from "./inference/unet_enhance.js";
export { writeExplain } from "./inference/explain_files.js";
export { DEFAULT_MODEL_DIR } from "./model_dir/default_dir.js";
export { loadModelDir, ModelDirError, type LoadedModel } from "./model_dir/load.js";
export type { ModelCard } from "./model_dir/card.js";

export { psnr, ssim3d, ssim2d, hfen, mse, rmse, perSliceMetrics, type SliceMetrics } from "./metrics/volume_metrics.js";
export { evaluate, runEvaluate, type EvaluateOptions, type EvaluateReport } from "./evaluate/evaluate.js";
