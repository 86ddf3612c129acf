// Small DOM helpers for the viewer page: element construction, test ids, number formatting.
// Plain DOM on purpose (no framework): the page is a handful of panels.

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** Create an element: attributes (data-* and aria-* kept as attributes, booleans as presence) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key === "class") node.className = String(value);
    else if (key === "text") node.textContent = String(value);
    else if (key === "testid") node.dataset.testid = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/** The element with this id; throws when index.html lacks it (a build mistake, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`viewer page: element #${id} is missing from index.html`);
  return node as T;
}

/** Remove every child. */
export function clear(node: Element): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** A test id safe for CSS selectors: spaces (and anything odd) become "-". */
export function testIdPart(name: string): string {
  return name.trim().replace(/\s+/g, "-").replace(/[^A-Za-z0-9_.-]/g, "-");
}

/** Numbers for tables and readouts: 4 significant digits, no exponent for ordinary magnitudes. */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "∞" : "−∞";
  if (value === 0) return "0";
  if (Number.isInteger(value) && Math.abs(value) < 1e7) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1e7 || magnitude < 1e-4) return value.toExponential(digits - 1);
  return String(Number(value.toPrecision(digits)));
}

/** A table cell's text: null as "–" (nothing to report), numbers formatted. */
export function formatCell(value: string | number | null): string {
  if (value === null) return "–";
  if (typeof value === "number") return formatNumber(value);
  return value;
}

/** Bytes as "20 MB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${formatNumber(bytes / 1024 ** 3, 3)} GB`;
  if (bytes >= 1024 ** 2) return `${formatNumber(bytes / 1024 ** 2, 3)} MB`;
  if (bytes >= 1024) return `${formatNumber(bytes / 1024, 3)} KB`;
  return `${bytes} B`;
}

/** A labelled range input; returns the row and the input. */
export function rangeRow(
  label: string,
  testid: string,
  opts: { min: number; max: number; step: number; value: number; title?: string },
): { row: HTMLLabelElement; input: HTMLInputElement } {
  const input = el("input", {
    type: "range",
    min: opts.min,
    max: opts.max,
    step: opts.step,
    value: opts.value,
    testid,
    title: opts.title,
  });
  const row = el("label", { class: "range-row" }, el("span", { text: label }), input);
  return { row, input };
}
