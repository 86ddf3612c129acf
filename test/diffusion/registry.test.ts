// The sampler registry (src/diffusion/registry.ts): names, construction by name, unknown names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NoiseSchedule } from "../../src/diffusion/noise_schedules.js";
import { createScheduler, isSamplerName, samplerNames, schedulerClass } from "../../src/diffusion/registry.js";
import { DDIMScheduler } from "../../src/diffusion/ddim.js";
import { DDPMScheduler } from "../../src/diffusion/ddpm.js";
import { assertThrowsMatching } from "../helpers.js";

test("the registry lists its samplers and constructs each by name with its options", () => {
  assert.deepEqual([...samplerNames()].sort(), ["ddim", "ddpm"]);
  assert.equal(isSamplerName("ddim"), true);
  assert.equal(isSamplerName("toString"), false);
  assert.equal(isSamplerName("DDIM"), false);
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  const ddim = createScheduler("ddim", s, { eta: 0.3 });
  assert.ok(ddim instanceof DDIMScheduler);
  assert.equal(ddim.eta, 0.3);
  assert.equal(ddim.schedule, s);
  ddim.setTimesteps(5);
  assert.deepEqual(ddim.timesteps, [19, 14, 10, 5, 0]);
  assert.equal((createScheduler("ddim", s) as DDIMScheduler).eta, 0);
  const ddpm = createScheduler("ddpm", s, { eta: 0 }); // eta is DDIM's; DDPM ignores it
  assert.ok(ddpm instanceof DDPMScheduler);
  ddpm.setTimesteps(undefined);
  assert.equal(ddpm.timesteps.length, 20);
  assert.equal(schedulerClass("ddim").takesSteps, true);
  assert.equal(schedulerClass("ddpm").takesSteps, false);
  for (const n of samplerNames()) assert.ok(schedulerClass(n).description.length > 0, n);
});

test("an unknown sampler name is refused with the list of known ones", () => {
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  assertThrowsMatching(() => createScheduler("euler", s), /unknown sampler 'euler'/, /known samplers: ddim, ddpm/);
  assertThrowsMatching(() => schedulerClass("constructor"), /unknown sampler 'constructor'/);
});
