// torch.nn: modules, layers, initialisers, and the functional API.
import "../tensor_methods.js"; // Tensor's op-backed methods, for a caller that imports this module without index.ts
export { Parameter, emptyParameter, type LayerOptions } from "./parameter.js";
export { Module, type StateDict, type LoadStateDictOptions, type LoadStateDictResult } from "./module.js";
export * as init from "./init.js";
export { Linear, type LinearOptions } from "./linear.js";
export {
  ConvNd,
  Conv,
  ConvTranspose,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose2d,
  ConvTranspose3d,
  type ConvOptions,
  type ConvTransposeOptions,
  type PaddingMode,
} from "./conv.js";
export {
  GroupNorm,
  LayerNorm,
  BatchNormNd,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  type GroupNormOptions,
  type LayerNormOptions,
  type BatchNormOptions,
} from "./norm.js";
export { Embedding, type EmbeddingOptions } from "./embedding.js";
export { Dropout } from "./dropout.js";
export { ReLU, SiLU, GELU, LeakyReLU, Sigmoid, Tanh, Identity } from "./activation.js";
export { Sequential, ModuleList, type UnaryModule } from "./containers.js";
export * as functional from "./functional.js";
