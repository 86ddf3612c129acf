// The samplers by name: "--sampler <name>" and MoESampleOptions.sampler pick one of these.
// Adding a scheduler: one file (a class implementing Scheduler, with the static `description` and
// `takesSteps`) and one line in SCHEDULERS below.
import type { NoiseSchedule } from "./noise_schedules.js";
import type { Scheduler, SchedulerOptions } from "./scheduler.js";
import { DDIMScheduler } from "./ddim.js";
import { DDPMScheduler } from "./ddpm.js";

/** What the registry needs of a scheduler class. */
export interface SchedulerClass {
  new (schedule: NoiseSchedule, options?: SchedulerOptions): Scheduler;
  /** One line for a command's help. */
  readonly description: string;
  /** Does setTimesteps take a number of steps (DDIM), or does the sampler visit every timestep (DDPM)? */
  readonly takesSteps: boolean;
}

const SCHEDULERS = {
  ddim: DDIMScheduler,
  ddpm: DDPMScheduler,
} as const satisfies Record<string, SchedulerClass>;

/** A sampler's name: a key of the registry. */
export type SamplerName = keyof typeof SCHEDULERS;
/** The former name of SamplerName (kept so existing imports compile). */
export type SamplerKind = SamplerName;

/** The registered sampler names, in registry order. */
export function samplerNames(): SamplerName[] {
  return Object.keys(SCHEDULERS) as SamplerName[];
}

export function isSamplerName(name: string): name is SamplerName {
  return Object.prototype.hasOwnProperty.call(SCHEDULERS, name);
}

/** The class registered under `name`; throws, listing the known names, for any other. */
export function schedulerClass(name: string): SchedulerClass {
  if (!isSamplerName(name)) throw new RangeError(`unknown sampler '${name}'; known samplers: ${samplerNames().join(", ")}`);
  return SCHEDULERS[name];
}

/** A new scheduler `name` over `schedule` (call setTimesteps before stepping). */
export function createScheduler(name: string, schedule: NoiseSchedule, options: SchedulerOptions = {}): Scheduler {
  const C = schedulerClass(name);
  return new C(schedule, options);
}
