// The font: MOEDIFF_FONT overrides the default; a missing file gives a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Canvas } from "../../src/figures/canvas.js";
import { DEFAULT_FONT_PATH, ensureFont, fontPath } from "../../src/figures/font.js";
import { assertThrowsMatching } from "../helpers.js";

test("a missing font names the file and how to get one; text renders with the default", () => {
  const saved = process.env["MOEDIFF_FONT"];
  try {
    process.env["MOEDIFF_FONT"] = "/nonexistent/font.ttf";
    assert.equal(fontPath(), "/nonexistent/font.ttf");
    assertThrowsMatching(() => ensureFont(), /font \/nonexistent\/font\.ttf \(from MOEDIFF_FONT\) not found/);
    assertThrowsMatching(() => new Canvas(10, 10).text("x", 0, 0), /not found/);
    delete process.env["MOEDIFF_FONT"];
    assert.equal(fontPath(), DEFAULT_FONT_PATH);
    const c = new Canvas(60, 30);
    c.text("Hg", 5, 22, { size: 20 });
    let dark = 0;
    for (let y = 0; y < 30; y++) for (let x = 0; x < 60; x++) if (c.pixel(x, y)[0] < 128) dark++;
    assert.ok(dark > 30, `text should put dark pixels on white, got ${dark}`);
    assert.ok(c.textWidth("Hg", 20) > 15);
  } finally {
    if (saved === undefined) delete process.env["MOEDIFF_FONT"];
    else process.env["MOEDIFF_FONT"] = saved;
  }
});
