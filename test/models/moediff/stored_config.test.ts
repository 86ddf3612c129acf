// A run's stored config.json keeps meaning what it meant when it was trained (resolveStoredMoEDiffConfig):
// keys added later get the value the run was trained with, not the preset's current default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveMoEDiffConfig, resolveStoredMoEDiffConfig } from "../../../src/models/moediff/config.js";

/** The cpu-small preset as a run written before formulation, routingBalance and absolutePosition existed. */
function oldStored(): Record<string, unknown> {
  const c = JSON.parse(JSON.stringify(resolveMoEDiffConfig("cpu-small"))) as { model: Record<string, unknown> & { condition: Record<string, unknown> }; losses: Record<string, unknown> };
  delete c.model.formulation;
  delete c.model.shift;
  c.model.target = "residual";
  delete c.losses.routingBalance;
  delete c.losses.expertFloor;
  delete c.model.condition.absolutePosition;
  return c as unknown as Record<string, unknown>;
}

test("an old run loads as it was trained: paper formulation, no routing term, absolute positions", () => {
  const c = resolveStoredMoEDiffConfig(oldStored() as { preset: string });
  assert.equal(c.model.formulation, "paper");
  assert.equal(c.losses.routingBalance, 0);
  assert.equal(c.losses.expertFloor, 0);
  assert.equal(c.model.condition.absolutePosition, true);
});

test("losses.expertFloor outside [0, 1] is refused with the key named", () => {
  assert.throws(() => resolveMoEDiffConfig("cpu-small", { losses: { expertFloor: 1.5 } }), /losses\.expertFloor.*\[0, 1\].*1\.5/);
});

test("a new run keeps what it stored, and the cpu-small preset now trains without absolute positions", () => {
  const fresh = resolveMoEDiffConfig("cpu-small");
  assert.equal(fresh.model.condition.absolutePosition, false);
  assert.equal(fresh.losses.routingBalance, 0.5);
  const again = resolveStoredMoEDiffConfig(JSON.parse(JSON.stringify(fresh)) as { preset: string });
  assert.deepEqual(again, fresh);
  assert.equal(resolveMoEDiffConfig("paper").model.condition.absolutePosition, true);
});
