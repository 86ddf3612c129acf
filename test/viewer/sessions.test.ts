// What the viewer shows for a directory or for files: roles from names, the demo layout with explain/
// and regions/, metrics tables from a demo's metrics.json, and the refusals.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { roleFromName, sessionFromDir, sessionFromFiles } from "../../src/viewer/sessions.js";
import { modelAvailability, sessionsFromPaths } from "../../src/cli/commands/view.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";

let dir: string;
let cleanup: () => void;
let demo: string;

const metrics = {
  format: "moediff-sr-demo",
  heldout: { source: { subject: "ch2bet" }, slab: { axis: "z", first: 101, last: 113 }, acquisition: { voxelSize: 1.639, snr: 31.9 } },
  enhance: { sampler: "ddim", steps: 5, start: 0.2, seconds: 18.4 },
  evaluations: [
    {
      scope: "slab",
      dataRange: 122,
      note: null,
      methods: [
        { method: "input", volume: { psnr: 23.94, ssim: 0.4175, hfen: 0.2879 }, regions: [{ name: "brain", psnr: 23.06, ssim: 0.7935 }, { name: "wm", psnr: 25.1, ssim: 0.8 }] },
        { method: "enhanced", volume: { psnr: 29.93, ssim: 0.8907, hfen: 0.1535 }, regions: [{ name: "brain", psnr: 28.02, ssim: 0.9005 }] },
      ],
    },
  ],
};

before(() => {
  ({ dir, cleanup } = tempDir("moediff-viewer-sessions-"));
  demo = join(dir, "demo");
  mkdirSync(join(demo, "explain"), { recursive: true });
  mkdirSync(join(demo, "regions"), { recursive: true });
  const v = phantom([8, 8, 4]);
  for (const n of ["input", "enhanced", "reference", "lr", "bspline", "trilinear"]) writeVolume(join(demo, `${n}.nii.gz`), v);
  for (const k of [2, 1]) {
    writeVolume(join(demo, "explain", `expert_E${k}.nii.gz`), v);
    writeVolume(join(demo, "explain", `gate_E${k}.nii.gz`), v);
  }
  writeVolume(join(demo, "regions", "brain.nii.gz"), v);
  writeFileSync(join(demo, "metrics.json"), JSON.stringify(metrics));
  writeFileSync(join(demo, "summary.md"), "# not a volume\n");
});
after(() => cleanup());

test("roleFromName: demo and explain names, then common words; unknown is other", () => {
  assert.deepEqual(roleFromName("/x/expert_E3.nii.gz"), { role: "expert", expert: 3 });
  assert.deepEqual(roleFromName("gate_E1.nii"), { role: "gate", expert: 1 });
  assert.equal(roleFromName("bspline.nii.gz").role, "baseline");
  assert.equal(roleFromName("sub-01_T1w_7Tlike.nii.gz").role, "enhanced");
  assert.equal(roleFromName("sub-01_T1w_3T.nii.gz").role, "input");
  assert.equal(roleFromName("sub-01_ref.nii").role, "reference");
  assert.equal(roleFromName("brainmask.nii.gz").role, "other");
});

test("sessionFromDir: the demo layout in display order, file URLs that end in the file's name, the demo's tables", () => {
  const s = sessionFromDir("s0", demo);
  assert.deepEqual(
    s.session.volumes.map((v) => `${v.role}:${v.name}`),
    ["input:input", "enhanced:enhanced", "reference:reference", "lr:lr", "baseline:bspline", "baseline:trilinear", "expert:expert E1", "expert:expert E2", "gate:gate E1", "gate:gate E2", "region:region brain"],
  );
  assert.equal(s.files.length, s.session.volumes.length);
  s.session.volumes.forEach((v, i) => {
    assert.equal(v.url, `/files/s0/${i}/${(s.files[i] as string).split("/").pop()}`);
  });
  assert.ok((s.files[6] as string).endsWith("explain/expert_E1.nii.gz"));
  const [main, regions, run] = s.session.tables;
  assert.deepEqual(main?.columns, ["method", "PSNR dB", "SSIM", "HFEN", "brain PSNR dB", "brain SSIM"]);
  assert.deepEqual(main?.rows[1], ["MoEDiff-SR", 29.93, 0.8907, 0.1535, 28.02, 0.9005]);
  assert.match(main?.note ?? "", /data range 122/);
  assert.deepEqual(regions?.rows, [["brain", 23.06, 28.02], ["wm", 25.1, null]]);
  assert.deepEqual(run?.rows.find((r) => r[0] === "slab"), ["slab", "z 101–113"]);
});

test("sessionFromDir: a broken metrics.json is a table saying so, and the volumes still show", () => {
  const d = join(dir, "broken");
  mkdirSync(d);
  writeVolume(join(d, "scan.nii.gz"), phantom([6, 6, 4]));
  writeFileSync(join(d, "metrics.json"), "{ not json");
  const s = sessionFromDir("s1", d);
  assert.equal(s.session.volumes[0]?.role, "input", "an unnamed volume is shown as the input");
  assert.match(s.session.tables[0]?.note ?? "", /metrics\.json could not be read/);
});

test("sessionFromFiles: positional files are input, enhanced, reference unless named otherwise; --explain adds maps", () => {
  const a = writeVolume(join(dir, "a.nii.gz"), phantom([6, 6, 4]));
  const b = writeVolume(join(dir, "b.nii.gz"), phantom([6, 6, 4]));
  const ref = writeVolume(join(dir, "sub_ref.nii.gz"), phantom([6, 6, 4]));
  const s = sessionFromFiles("s0", [ref, a, b]);
  assert.deepEqual(s.session.volumes.map((v) => `${v.role}:${v.name}`), ["input:a", "enhanced:b", "reference:sub_ref"]);
  const e = sessionFromFiles("s0", [a], { enhanced: b, explain: join(demo, "explain") });
  assert.deepEqual(e.session.volumes.map((v) => v.role), ["input", "enhanced", "expert", "expert", "gate", "gate"]);
  assert.throws(() => sessionFromFiles("s0", [join(dir, "missing.nii.gz")]), /missing\.nii\.gz: no such file/);
  assert.throws(() => sessionFromFiles("s0", [join(demo, "summary.md")]), /not a NIfTI file name/);
});

test("sessionsFromPaths: one session per directory; directories and files together are refused", () => {
  const both = sessionsFromPaths([demo, join(dir, "broken")], {});
  assert.deepEqual(both.map((s) => s.session.id), ["s0", "s1"]);
  assert.throws(() => sessionsFromPaths([demo, join(demo, "input.nii.gz")], {}), /directories or files, not both/);
  assert.throws(() => sessionsFromPaths([demo], { reference: join(demo, "reference.nii.gz") }), /with a directory, its files are found by name/);
  assert.throws(() => sessionsFromPaths([join(dir, "nowhere")], {}), /no such file or directory/);
  const empty = join(dir, "empty");
  mkdirSync(empty);
  assert.throws(() => sessionFromDir("s0", empty), /has no NIfTI files/);
  assert.throws(() => sessionFromDir("s0", join(demo, "input.nii.gz")), /is not a directory/);
  assert.deepEqual(sessionsFromPaths([], {}), []);
});

test("modelAvailability: a missing directory or missing weights switch enhancing off with the reason", () => {
  assert.match(modelAvailability(join(dir, "no-model")).why ?? "", /no-model does not exist; start the viewer with --model RUN/);
  const half = join(dir, "half-model");
  mkdirSync(join(half, "vqvae"), { recursive: true });
  writeFileSync(join(half, "config.json"), "{}");
  writeFileSync(join(half, "vqvae", "config.json"), "{}");
  const a = modelAvailability(half);
  assert.equal(a.available, false);
  assert.match(a.why ?? "", /lacks model\.safetensors, vqvae\/model\.safetensors/);
  writeFileSync(join(half, "model.safetensors"), "");
  writeFileSync(join(half, "vqvae", "model.safetensors"), "");
  assert.deepEqual(modelAvailability(half), { available: true });
});
