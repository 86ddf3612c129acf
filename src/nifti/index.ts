// NIfTI-1/NIfTI-2 reading and writing (.nii, .nii.gz). Independent of the tensor engine.
export { NiftiError } from "./errors.js";
export { readNifti, parseNifti, toVolume, type NiftiImage, type ReadOptions, type ParseOptions } from "./read.js";
export { writeNifti, encodeNifti, isNiftiImage, type WriteOptions, type WriteResult, type Encoded } from "./write.js";
export { orientationCode, voxelSizes, quaternToMat4, mat4ToQuatern, mat4ToRows, type Quatern, type Mat4 } from "./affine.js";
export { NIFTI_DTYPES, isNiftiDtype, datatypeName, type NiftiDtype } from "./datatype.js";
export type { NiftiHeader } from "./header.js";
export type { AffineSource } from "./xform.js";
export { xformOptionsFrom } from "./output_xform.js";
export { DICOM_ADVICE, dicomKind, hasDicomMagic } from "./dicom.js";
