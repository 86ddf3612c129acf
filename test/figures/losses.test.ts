// `figures losses`: parsing the JSONL log, key choice and grouping, log-y, line direction, errors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeLosses, runName } from "../../src/figures/losses.js";
import { groupKeys, parseLossLog, selectKeys } from "../../src/figures/loss_log.js";
import { assertThrowsMatching } from "../helpers.js";
import { readPng, rejectsMatching, runFigures, tempDir } from "./helpers.js";
import type { Canvas, Colour } from "../../src/figures/canvas.js";

const root = tempDir("losses");
after(() => rmSync(root, { recursive: true, force: true }));

function writeLog(run: string, lines: string[]): string {
  const dir = join(root, run);
  mkdirSync(dir, { recursive: true });
  const p = join(dir, "log.jsonl");
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

const steps = Array.from({ length: 20 }, (_, i) => i + 1);
/** loss falls 9.6 -> 2, recon rises 0.51 -> 0.7; lr and time are bookkeeping. */
const SMALL = writeLog("small-run", [
  ...steps.map((s) => JSON.stringify({ step: s, time: s * 0.1, loss: 10 - 0.4 * s, recon: 0.5 + 0.01 * s, lr: 1e-4 })),
  "this is not json",
  JSON.stringify({ loss: 3 }),
  "",
  JSON.stringify({ step: 20, eval: { split: "val", slices: 4, total: 2.5 } }),
]);

/** Rows in column x (±1 px) of the plot area whose pixel is exactly `colour`. */
function rowsOf(canvas: Canvas, x: number, top: number, bottom: number, colour: Colour): number[] {
  const rows: number[] = [];
  for (let y = top; y <= bottom; y++) {
    const p = canvas.pixel(Math.round(x), y);
    if (p[0] === colour[0] && p[1] === colour[1] && p[2] === colour[2]) rows.push(y);
  }
  return rows;
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

test("parsing: training series, eval points, malformed lines counted", () => {
  const log = parseLossLog("{\"step\":1,\"loss\":2,\"gate_E1\":0.3}\n[1,2]\n{\"step\":\"x\"}\n\n{\"step\":2,\"eval\":{\"total\":1.5,\"task\":[4,5],\"gateMean\":[0.5,0.5],\"slices\":13}}\n", "mem");
  assert.equal(log.trainLines, 1);
  assert.equal(log.evalLines, 1);
  assert.equal(log.skipped, 2);
  assert.deepEqual(log.skippedExamples, [2, 3]);
  assert.deepEqual(log.series.get("loss"), [{ step: 1, value: 2 }]);
  assert.deepEqual(log.evals.get("loss"), [{ step: 2, value: 1.5 }]);
  assert.deepEqual(log.evals.get("task_E2"), [{ step: 2, value: 5 }]);
  assert.deepEqual(log.evals.get("gate_E1"), [{ step: 2, value: 0.5 }]);
  assert.equal(log.evals.has("slices"), false);
  assert.deepEqual(selectKeys(log), ["loss"]);
});

test("default keys and grouping of more than 8 keys", () => {
  const moe = ["loss", "expert", "gating", "gatingDiversity", "diffusion_E1", "task_E1", "diffusion_E2", "task_E2", "diffusion_E3", "task_E3"];
  const line = { step: 1, time: 1, lr: 1, uniform: 1, w: 1, temperature: 1, gradNorm: 1, usage_E1: 1, gate_E1: 1, ...Object.fromEntries(moe.map((k) => [k, 1])) };
  const log = parseLossLog(JSON.stringify(line), "mem");
  const keys = selectKeys(log);
  assert.deepEqual(keys, moe);
  assert.deepEqual(
    groupKeys(keys).map((g) => [g.title, g.keys]),
    [
      ["total", ["loss", "expert", "gating"]],
      ["diffusion_E*", ["diffusion_E1", "diffusion_E2", "diffusion_E3"]],
      ["task_E*", ["task_E1", "task_E2", "task_E3"]],
      ["other", ["gatingDiversity"]],
    ],
  );
  assert.deepEqual(groupKeys(["a", "b"]), [{ title: "", keys: ["a", "b"] }]);
  assertThrowsMatching(() => selectKeys(log, ["loss", "nope"]), /--keys nope not found in mem; numeric keys there: time, lr, .*, loss, expert/);
});

test("losses plot: lines move the right way, eval marker drawn, PNG written, warning for skipped lines", async () => {
  const out = join(root, "small.png");
  const r = await runFigures("losses", "--log", SMALL, "-o", out);
  assert.match(r.stderr, /warning: skipped 2 malformed lines of .*log\.jsonl \(lines 21, 22\)/);
  const png = readPng(out);
  const fig = makeLosses({ log: SMALL });
  assert.equal(png.width, fig.canvas.width);
  assert.equal(png.height, fig.canvas.height);
  assert.equal(fig.title, "small-run");
  assert.equal(fig.subplots.length, 1);
  const sp = fig.subplots[0]!;
  assert.deepEqual(sp.keys, ["loss", "recon"]);
  assert.equal(sp.logY, false, "0.51..9.6 spans under 2 decades");
  const { area, xToPx, yToPx } = sp.layout;
  const lossColour = sp.colours.get("loss")!;
  const reconColour = sp.colours.get("recon")!;
  assert.notDeepEqual(lossColour, reconColour);
  const at = (step: number, colour: Colour) => {
    const rows = rowsOf(fig.canvas, xToPx(step), area.y, area.y + area.h - 1, colour);
    assert.ok(rows.length > 0, `no ${colour.join(",")} pixel at step ${step}`);
    return mean(rows);
  };
  // Screen rows grow downward: a falling loss moves down, a rising recon moves up.
  assert.ok(at(17, lossColour) > at(3, lossColour) + 50);
  assert.ok(at(17, reconColour) < at(3, reconColour) - 2);
  // And they sit where the values are.
  assert.ok(Math.abs(at(10, lossColour) - yToPx(6)) <= 2);
  // The eval marker (eval.total, drawn with "loss") at step 20 has the loss colour inside a black rim.
  const [mx, my] = [Math.round(xToPx(20)), Math.round(yToPx(2.5))];
  assert.deepEqual(fig.canvas.pixel(mx, my), lossColour);
  assert.deepEqual(fig.canvas.pixel(mx, my - 4), [0, 0, 0]);
});

test("log y: automatic beyond 2 decades, --log-y forced, kept linear with values <= 0", () => {
  const wide = writeLog("wide", steps.map((s) => JSON.stringify({ step: s, loss: 1000 / s ** 2 })));
  const fig = makeLosses({ log: wide });
  assert.equal(fig.subplots[0]!.logY, true);
  const { yToPx } = fig.subplots[0]!.layout;
  // Equal ratios are equal distances on a log axis.
  assert.ok(Math.abs(yToPx(1) - yToPx(10) - (yToPx(10) - yToPx(100))) < 1e-6);
  const narrow = makeLosses({ log: SMALL, logY: true });
  assert.equal(narrow.subplots[0]!.logY, true);
  const neg = writeLog("neg", steps.map((s) => JSON.stringify({ step: s, loss: 5 - s })));
  const f3 = makeLosses({ log: neg, logY: true });
  assert.equal(f3.subplots[0]!.logY, false);
  assert.match(f3.warnings.join("\n"), /--log-y: the plot has values <= 0 \(smallest -15\); its y axis stays linear/);
});

test("more than 8 keys become subplots; --keys chooses", () => {
  const keys = ["loss", "expert", "gating", "diffusion_E1", "diffusion_E2", "diffusion_E3", "task_E1", "task_E2", "task_E3"];
  const p = writeLog("moe", steps.map((s) => JSON.stringify({ step: s, ...Object.fromEntries(keys.map((k, i) => [k, 1 + i + 1 / s])) })));
  const fig = makeLosses({ log: p });
  assert.deepEqual(fig.subplots.map((sp) => sp.title), ["total", "diffusion_E*", "task_E*"]);
  const chosen = makeLosses({ log: p, keys: ["task_E2", "loss"] });
  assert.deepEqual(chosen.subplots.map((sp) => sp.keys), [["task_E2", "loss"]]);
});

test("errors: empty log, only malformed lines, missing file, unknown key; no output written", async () => {
  const out = join(root, "bad.png");
  const empty = writeLog("empty", []);
  await rejectsMatching(runFigures("losses", "--log", empty, "-o", out), /has no usable line .*the file is empty/);
  const junk = writeLog("junk", ["nope", "{\"a\":1}"]);
  await rejectsMatching(runFigures("losses", "--log", junk, "-o", out), /has no usable line .*2 malformed skipped/);
  await rejectsMatching(runFigures("losses", "--log", join(root, "none.jsonl"), "-o", out), /--log .*none\.jsonl does not exist/);
  await rejectsMatching(runFigures("losses", "--log", SMALL, "--keys", "loss,bogus", "-o", out), /--keys bogus not found/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root).filter((f) => f.endsWith(".tmp")), []);
  assert.equal(runName("/a/b/run-7/log.jsonl"), "run-7");
});
