// The regression U-Net baseline (pixel space, residual on the B-spline image): public surface.
export { UNET_KIND, UNET_CPU_SMALL, UNET_PRESETS, resolveUNetRunConfig, unetSizeMultiple, validateUNetConfig, type UNetConfig, type UNetRunConfig, type UNetTrainingConfig } from "./config.js";
export { UNetResBlock, UNetDown, UNetUp, groupsFor } from "./blocks.js";
export { UNet } from "./unet.js";
export { loadUNet, readUNetRunConfig, runKindOf, UNetDirError } from "./load.js";
