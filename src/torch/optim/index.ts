// torch.optim: optimisers, learning-rate schedules, gradient clipping, EMA.
import "../tensor_methods.js"; // Tensor's op-backed methods, for a caller that imports this module without index.ts
export {
  Optimizer,
  type HyperValue,
  type Hyperparameters,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type ParamState,
  type StateLayout,
  type OptimizerStateDict,
  type OptimizerStateMeta,
} from "./optimizer.js";
export { Adam, ADAM_DEFAULTS, type AdamOptions } from "./adam.js";
export { AdamW, ADAMW_DEFAULTS, type AdamWOptions } from "./adamw.js";
export { SGD, type SGDOptions } from "./sgd.js";
export {
  LambdaLR,
  type LrLambda,
  type LrOptimizer,
  type LRSchedulerState,
  constantLambda,
  linearWarmupLambda,
  cosineLambda,
  constantSchedule,
  linearWarmupSchedule,
  cosineSchedule,
} from "./lr_scheduler.js";
export { clipGradNorm_, clipGradValue_, type ClipGradNormOptions } from "./clip_grad.js";
export { ExponentialMovingAverage, type EMAOptions, type EMAStateDict, type EMAStateMeta } from "./ema.js";
