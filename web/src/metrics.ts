// The session's metrics tables beside the images: title, columns, rows (numbers to 4 significant
// digits, null as "–", numeric columns right-aligned), and the table's note.
import type { MetricsTable } from "../../src/viewer/api.js";
import { clear, el, formatCell } from "./dom.js";

function isNumericColumn(table: MetricsTable, column: number): boolean {
  let numbers = 0;
  for (const row of table.rows) {
    const cell = row[column];
    if (typeof cell === "number") numbers++;
    else if (cell !== null && cell !== undefined) return false;
  }
  return numbers > 0;
}

export function renderTable(table: MetricsTable): HTMLElement {
  const numeric = table.columns.map((_, c) => isNumericColumn(table, c));
  const head = el("tr", {}, ...table.columns.map((c, i) => el("th", { class: numeric[i] ? "num" : undefined, scope: "col", text: c })));
  const body = table.rows.map((row) =>
    el(
      "tr",
      {},
      ...table.columns.map((_, i) => {
        const cell = row[i] ?? null;
        return el("td", { class: numeric[i] ? "num" : undefined, title: typeof cell === "number" ? String(cell) : undefined, text: formatCell(cell) });
      }),
    ),
  );
  return el(
    "figure",
    { class: "metrics-table" },
    el("figcaption", { text: table.title }),
    el("div", { class: "table-scroll" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...body))),
    table.note ? el("p", { class: "note", text: table.note }) : null,
  );
}

/** Replace the metrics section's content with the session's tables. */
export function renderMetrics(container: HTMLElement, tables: MetricsTable[]): void {
  clear(container);
  if (tables.length === 0) {
    container.append(el("p", { class: "muted", text: "No metrics for this session." }));
    return;
  }
  for (const table of tables) container.append(renderTable(table));
}
