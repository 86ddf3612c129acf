import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PairsManifestError, parsePairsManifest, readPairsManifest, selectSubjects } from "../../src/data/pairs_manifest.js";
import { assertThrowsMatching } from "../helpers.js";
import { tempDir } from "./phantom.js";

const csv = (text: string) => parsePairsManifest(text, "csv", "m.csv", "/data");

test("CSV: header in any order and case, quotes, comments, blank lines, relative and absolute paths", () => {
  const e = csv(
    [
      "# pairs for the test",
      "HR, Subject ,lr,bias,gdc_warp",
      "sub-01/7t.nii.gz, sub-01, sub-01/3t.nii.gz, , ",
      "",
      '"/abs/with, comma.nii", sub-02, "sub-02/3t ""x"".nii", b.nii, w.nii',
    ].join("\r\n"),
  );
  assert.equal(e.length, 2);
  assert.deepEqual(e[0], { subject: "sub-01", lr: "/data/sub-01/3t.nii.gz", hr: "/data/sub-01/7t.nii.gz", where: "line 3" });
  assert.deepEqual(e[1], {
    subject: "sub-02",
    lr: '/data/sub-02/3t "x".nii',
    hr: "/abs/with, comma.nii",
    bias: "/data/b.nii",
    gdc: "/data/w.nii",
    where: "line 5",
  });
  const t = parsePairsManifest("subject\tlr\thr\ns1\ta b.nii\tc.nii\n", "tsv", "m.tsv", "/d");
  assert.equal(t[0]?.lr, "/d/a b.nii");
});

test("JSON: a list or {pairs: [...]}; unknown keys and non-strings are errors", () => {
  const list = parsePairsManifest(JSON.stringify([{ subject: "a", lr: "l.nii", hr: "h.nii" }]), "json", "m.json", "/d");
  const obj = parsePairsManifest(JSON.stringify({ pairs: [{ subject: "a", lr: "l.nii", hr: "h.nii" }] }), "json", "m.json", "/d");
  assert.deepEqual(list, [{ subject: "a", lr: "/d/l.nii", hr: "/d/h.nii", where: "entry 1" }]);
  assert.deepEqual(obj, list);
  assertThrowsMatching(
    () => parsePairsManifest(JSON.stringify([{ subject: "a", lr: "l", hr: "h", hr_path: "x" }]), "json", "m.json", "/d"),
    /pairs manifest m\.json: entry 1: unknown column "hr_path" \(known: subject, lr, hr, bias, gdc/,
  );
  assertThrowsMatching(() => parsePairsManifest(JSON.stringify([{ subject: 3, lr: "l", hr: "h" }]), "json", "m.json", "/d"), /entry 1: subject must be a string/);
  assertThrowsMatching(() => parsePairsManifest("{not json", "json", "m.json", "/d"), /not valid JSON/);
});

test("missing and unknown columns are named", () => {
  assertThrowsMatching(() => csv("subject,lr\na,b\n"), /pairs manifest m\.csv: line 1: missing required column hr \(have: subject, lr\)/);
  assertThrowsMatching(() => csv("subject,lr,hr,t2\na,b,c,d\n"), /line 1: unknown column "t2"/);
  assertThrowsMatching(() => csv("\n# only a comment\n"), /no header row/);
  assertThrowsMatching(() => csv("subject,lr,hr\n"), /no pairs/);
  assertThrowsMatching(() => csv("subject,lr,hr\na,b\n"), /line 2: 2 fields, but the header has 3 columns/);
});

test("bad rows are all reported together, each with its line", () => {
  let caught: unknown;
  try {
    csv(["subject,lr,hr", "a,l1.nii,h1.nii", ",l2.nii,h2.nii", "b c,l3.nii,h3.nii", "a,l1.nii,h1.nii", "b,l4.nii,h1.nii", 'c,"l5.nii,h5.nii'].join("\n"));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PairsManifestError);
  assert.match(caught.message, /5 problems:\n  line 3: /);
  assert.match(caught.message, /line 3: subject is empty/);
  assert.match(caught.message, /line 4: subject id "b c" may hold only letters, digits/);
  assert.match(caught.message, /line 5: duplicate row: the LR file l1\.nii is already paired in line 2/);
  assert.match(caught.message, /line 6: \/data\/h1\.nii is listed for subject b and, in line 2, for subject a; one file must belong to one subject/);
  assert.match(caught.message, /line 7: unterminated quoted field/);
});

test("several rows may share a subject and an HR file (sessions)", () => {
  const e = csv("subject,lr,hr\na,ses1.nii,h.nii\na,ses2.nii,h.nii\n");
  assert.deepEqual(
    e.map((x) => [x.subject, x.lr]),
    [
      ["a", "/data/ses1.nii"],
      ["a", "/data/ses2.nii"],
    ],
  );
});

test("readPairsManifest: missing files are listed; unknown subject ids are named", () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, "h.nii"), "x");
    writeFileSync(join(dir, "l.nii"), "x");
    const good = join(dir, "ok.csv");
    writeFileSync(good, "subject,lr,hr\nsub-1,l.nii,h.nii\nsub-2,l.nii.gz,h2.nii\n");
    assertThrowsMatching(() => readPairsManifest(good), /2 problems/, /line 3: lr file .*l\.nii\.gz does not exist/, /line 3: hr file .*h2\.nii does not exist/);
    writeFileSync(good, "subject,lr,hr,bias\nsub-1,l.nii,h.nii,\nsub-2,h.nii,l.nii,nobias.nii\n");
    assertThrowsMatching(() => readPairsManifest(good), /line 3: .*l\.nii is listed for subject sub-2 and, in line 2, for subject sub-1/);
    writeFileSync(good, "subject,lr,hr,bias\nsub-1,l.nii,h.nii,\n");
    const e = readPairsManifest(good);
    assert.equal(e[0]?.lr, join(dir, "l.nii"));
    assertThrowsMatching(() => selectSubjects(e, ["sub-1", "sub-9", "x"], good), /unknown subject ids sub-9, x \(the manifest has: sub-1\)/);
    assert.equal(selectSubjects(e, ["sub-1"], good).length, 1);
    assertThrowsMatching(() => readPairsManifest(join(dir, "none.csv")), /none\.csv: the file does not exist/);
    assertThrowsMatching(() => readPairsManifest(join(dir, "h.nii")), /unknown manifest format "\.nii": name it \.csv, \.tsv or \.json/);
  } finally {
    cleanup();
  }
});
