// How many steps each expert's own chain takes in asynchronous sampling (Table III "asyn").

/**
 * DDIM steps per expert in asynchronous mode: max(1, round(steps T_i / max_j T_j)), at most T_i
 * (an expert cannot visit more timesteps than its schedule has). `timesteps`: T_i of each expert.
 */
export function asyncStepCounts(steps: number, timesteps: readonly number[]): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`asyncStepCounts: steps must be a positive integer, got ${steps}`);
  if (timesteps.length === 0 || timesteps.some((t) => !Number.isInteger(t) || t < 1)) {
    throw new RangeError(`asyncStepCounts: timesteps must be a non-empty list of positive integers, got [${timesteps.join(", ")}]`);
  }
  const max = Math.max(...timesteps);
  return timesteps.map((t) => Math.min(t, Math.max(1, Math.round((steps * t) / max))));
}
