// A small document model (headings, paragraphs, lists, tables, images, code blocks) rendered to
// Markdown and to a self-contained HTML page, so the two summaries say the same thing.
// Text is plain: every renderer escapes it (Markdown's punctuation, HTML's < > & " '), so names from
// files (paths, region names with underscores, table cells from heldout.json) show as written.
// Inline code is the one inline markup: an Inline is a string or {code: string}.

export type Inline = string | { readonly code: string };
export type Text = Inline | readonly Inline[];

export type Block =
  | { readonly kind: "heading"; readonly level: 1 | 2 | 3; readonly text: Text }
  | { readonly kind: "paragraph"; readonly text: Text }
  | { readonly kind: "list"; readonly items: readonly Text[] }
  | { readonly kind: "table"; readonly header: readonly string[]; readonly rows: readonly (readonly string[])[]; readonly align?: readonly ("left" | "right")[]; readonly caption?: Text }
  | { readonly kind: "image"; readonly src: string; readonly alt: string }
  | { readonly kind: "code"; readonly text: string };

const inlines = (t: Text): readonly Inline[] => (typeof t === "string" || !Array.isArray(t) ? [t as Inline] : (t as readonly Inline[]));

/** Escapes Markdown's inline punctuation so the text shows literally (also inside table cells). */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]<>#+|~]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

function mdCode(code: string): string {
  // A backtick run longer than any inside the code delimits it (CommonMark).
  const longest = Math.max(0, ...(code.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = code.startsWith("`") || code.endsWith("`") ? " " : "";
  return `${fence}${pad}${code.replace(/\r?\n/g, " ").replace(/\|/g, "\\|")}${pad}${fence}`;
}

function mdText(t: Text): string {
  return inlines(t)
    .map((x) => (typeof x === "string" ? escapeMarkdown(x) : mdCode(x.code)))
    .join("");
}

function htmlText(t: Text): string {
  return inlines(t)
    .map((x) => (typeof x === "string" ? escapeHtml(x) : `<code>${escapeHtml(x.code)}</code>`))
    .join("");
}

export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case "heading":
        out.push(`${"#".repeat(b.level)} ${mdText(b.text)}`);
        break;
      case "paragraph":
        out.push(mdText(b.text));
        break;
      case "list":
        out.push(b.items.map((i) => `- ${mdText(i)}`).join("\n"));
        break;
      case "table": {
        const align = b.header.map((_, j) => b.align?.[j] ?? "left");
        const lines = [
          `| ${b.header.map(escapeMarkdown).join(" | ")} |`,
          `|${align.map((a) => (a === "right" ? "---:" : "---")).join("|")}|`,
          ...b.rows.map((r) => `| ${r.map(escapeMarkdown).join(" | ")} |`),
        ];
        if (b.caption !== undefined) lines.unshift(`*${mdText(b.caption)}*`, "");
        out.push(lines.join("\n"));
        break;
      }
      case "image":
        out.push(`![${escapeMarkdown(b.alt)}](${encodeURI(b.src)})`);
        break;
      case "code": {
        const longest = Math.max(2, ...(b.text.match(/`+/g) ?? []).map((r) => r.length));
        const fence = "`".repeat(longest + 1);
        out.push(`${fence}\n${b.text}\n${fence}`);
        break;
      }
    }
  }
  return `${out.join("\n\n")}\n`;
}

const STYLE = `
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1.1rem; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; }
th { background: #f2f2f2; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3rem; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5rem 0; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, monospace; background: #f6f6f6; }
pre { padding: 0.6rem; overflow-x: auto; }
`;

export function renderHtml(blocks: readonly Block[], title: string): string {
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case "heading":
        body.push(`<h${b.level}>${htmlText(b.text)}</h${b.level}>`);
        break;
      case "paragraph":
        body.push(`<p>${htmlText(b.text)}</p>`);
        break;
      case "list":
        body.push(`<ul>\n${b.items.map((i) => `<li>${htmlText(i)}</li>`).join("\n")}\n</ul>`);
        break;
      case "table": {
        const cls = (j: number): string => (b.align?.[j] === "right" ? ' class="r"' : "");
        body.push(
          [
            "<table>",
            ...(b.caption !== undefined ? [`<caption>${htmlText(b.caption)}</caption>`] : []),
            `<thead><tr>${b.header.map((h, j) => `<th${cls(j)}>${escapeHtml(h)}</th>`).join("")}</tr></thead>`,
            "<tbody>",
            ...b.rows.map((r) => `<tr>${r.map((c, j) => `<td${cls(j)}>${escapeHtml(c)}</td>`).join("")}</tr>`),
            "</tbody>",
            "</table>",
          ].join("\n"),
        );
        break;
      }
      case "image":
        body.push(`<figure><img src="${escapeHtml(encodeURI(b.src))}" alt="${escapeHtml(b.alt)}"></figure>`);
        break;
      case "code":
        body.push(`<pre><code>${escapeHtml(b.text)}</code></pre>`);
        break;
    }
  }
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
