// Reading a JSON file a user handed us (a model directory's config.json or card.json, a --config file,
// a data set's manifest, a checkpoint's state.json) with one-line errors that name the file, say what
// it is, where the syntax broke, and what to do: "the model card /m/card.json is not valid JSON
// (unexpected token 'o' at line 1 column 2); write it again with `moediff-sr card RUN --data DATA`".
import { readFileSync } from "node:fs";

export class JsonFileError extends Error {
  /** The problem and what to do, without what the file is and its path: "is not valid JSON (...); fix". */
  readonly problem: string;
  constructor(
    readonly path: string,
    message: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "JsonFileError";
    this.problem = problem;
  }
}

export interface JsonFileOptions {
  /** What the file is, e.g. "the model config" (the message starts with it). */
  what: string;
  /** What to do about a bad file, e.g. "copy the model directory again". */
  fix: string;
  /** Build the error with this class instead of JsonFileError (it gets the whole message). */
  error?: new (message: string) => Error;
}

/** "line 3 column 7" for a character offset into `text`. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line} column ${offset - before.lastIndexOf("\n")}`;
}

/**
 * JSON.parse's message without the file's text it quotes, with its character offset as line and column:
 * "Unexpected token 'o', "not json" is not valid JSON" -> "unexpected token 'o'".
 */
export function describeJsonSyntaxError(message: string, text: string): string {
  let m = message.replace(/, ".*"(\.\.\.)? is not valid JSON$/s, "").replace(/ is not valid JSON$/, "");
  m = m.replace(/ in JSON at position (\d+)/, (_all, p: string) => ` at ${lineColumn(text, Number(p))}`);
  if (text.trim() === "") return "the file is empty";
  return m.charAt(0).toLowerCase() + m.slice(1);
}

/** Reads and parses the JSON file `path`; every failure is one line naming the file (see JsonFileOptions). */
export function readJsonFile(path: string, o: JsonFileOptions): unknown {
  const fail = (problem: string, cause?: unknown): never => {
    const message = `${o.what} ${path} ${problem}; ${o.fix}`;
    throw o.error !== undefined ? new o.error(message) : new JsonFileError(path, message, `${problem}; ${o.fix}`, { cause });
  };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return fail("does not exist", e);
    if (code === "EISDIR") return fail("is a directory, not a file", e);
    return fail(`could not be read (${code ?? (e instanceof Error ? e.message : String(e))})`, e);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    return fail(`is not valid JSON (${describeJsonSyntaxError(e instanceof Error ? e.message : String(e), text)})`, e);
  }
}
