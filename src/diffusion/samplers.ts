// Former home of the samplers' free functions; the samplers are now scheduler classes, one per file
// (ddpm.ts, ddim.ts, interface in scheduler.ts), picked by name in registry.ts. Only the sampler-name
// type is re-exported here, for the imports not yet switched to registry.ts; remove this file once
// none is left.
export type { SamplerKind, SamplerName } from "./registry.js";
