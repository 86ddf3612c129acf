// A small, safe Python-pickle reader (the subset of protocols 2-5 that torch.save uses).
//
// This is a stack machine like Python's Unpickler, but it never imports or runs
// anything: GLOBAL / STACK_GLOBAL ask the caller's `findClass` hook, which
// returns a JavaScript stand-in for an allowed name or throws; REDUCE and BUILD
// only call those stand-ins. Values come out as:
//   None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
//   str -> string, bytes -> Uint8Array, list -> array, tuple -> frozen array,
//   dict -> Map, anything else -> whatever the caller's stand-ins return.
// Opcodes outside the supported set (e.g. protocol-0 text opcodes, sets, NEWOBJ,
// INST/OBJ) are refused with a PickleError naming the opcode and its offset.

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PickleError";
  }
}

/** A Python global the caller allowed: something REDUCE may call. */
export interface PickleCallable {
  readonly module: string;
  readonly name: string;
  /** What REDUCE does: callable(*args). */
  call(args: readonly unknown[]): unknown;
}

export interface UnpicklerHooks {
  /** Resolves module.name, or throws if it is not allowed. */
  findClass(module: string, name: string): PickleCallable;
  /** Resolves a persistent id (BINPERSID). */
  persistentLoad(pid: unknown): unknown;
  /** BUILD: applies `state` to `obj` (Python's __setstate__), returning the object to keep on the stack. */
  build(obj: unknown, state: unknown): unknown;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x47: "BINFLOAT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x55: "SHORT_BINSTRING",
  0x58: "BINUNICODE",
  0x5d: "EMPTY_LIST",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x65: "APPENDS",
  0x68: "BINGET",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x75: "SETITEMS",
  0x7d: "EMPTY_DICT",
  0x29: "EMPTY_TUPLE",
  0x80: "PROTO",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
};

/** Names of opcodes this reader does not implement, for error messages. */
const KNOWN_UNSUPPORTED: Record<number, string> = {
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x69: "INST",
  0x6f: "OBJ",
  0x49: "INT",
  0x4c: "LONG",
  0x46: "FLOAT",
  0x53: "STRING",
  0x56: "UNICODE",
  0x50: "PERSID",
  0x67: "GET",
  0x70: "PUT",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Two's-complement little-endian integer of any length (LONG1/LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] as number);
  if ((bytes[bytes.length - 1] as number) & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Runs the pickle in `data` and returns the object it builds. `source` names
 * the data in error messages (e.g. "vgg16.pth: archive/data.pkl").
 */
export function unpickle(data: Uint8Array, hooks: UnpicklerHooks, source: string): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let opStart = 0;
  let opName = "";

  const fail: (problem: string) => never = (problem) => {
    throw new PickleError(`${source}: ${problem} (opcode ${opName} at byte ${opStart})`);
  };
  const need = (n: number): number => {
    if (pos + n > data.length) fail(`the pickle ends after ${data.length} bytes, ${pos + n - data.length} bytes short; the file is truncated or corrupt`);
    const at = pos;
    pos += n;
    return at;
  };
  const take = (n: number): Uint8Array => data.subarray(need(n), pos);
  const u8 = (): number => data[need(1)] as number;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(data.length)) fail(`a length of ${v} bytes exceeds the pickle`);
    return Number(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("the stack is empty; the pickle is corrupt");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("the stack is empty; the pickle is corrupt");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail("no MARK to pop to; the pickle is corrupt");
    stack = prev as unknown[];
    return items;
  };
  const text = (bytes: Uint8Array): string => {
    try {
      return utf8.decode(bytes);
    } catch {
      return fail("a string is not valid UTF-8");
    }
  };
  const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored; the pickle is corrupt`);
    return memo.get(i);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) fail(`SETITEM(S) on a ${describe(dict)}, not a dict`);
    if (items.length % 2 !== 0) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list) || Object.isFrozen(list)) fail(`APPEND(S) on a ${describe(list)}, not a list`);
    (list as unknown[]).push(...items);
  };
  const callable = (f: unknown): PickleCallable => {
    if (typeof f === "object" && f !== null && typeof (f as PickleCallable).call === "function" && typeof (f as PickleCallable).module === "string") {
      return f as PickleCallable;
    }
    return fail(`REDUCE on a ${describe(f)}, which is not a callable global`);
  };

  for (;;) {
    opStart = pos;
    const op = u8();
    opName = OPCODE_NAMES[op] ?? KNOWN_UNSUPPORTED[op] ?? `0x${op.toString(16).padStart(2, "0")}`;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocol newer than 5");
        break;
      case 0x95: // FRAME: a length prefix only; the frame's opcodes follow inline.
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || metastack.length !== 0) fail(`STOP with ${stack.length} values on the stack; the pickle is corrupt`);
        return stack[0];
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = view.getInt32(need(4), true);
        if (n < 0) fail("negative LONG4 length");
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str; latin-1)
        stack.push(Array.from(take(u8()), (b) => String.fromCharCode(b)).join(""));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: {
        // TUPLE (pop the mark before touching `stack`: popMark replaces it)
        const items = popMark();
        stack.push(tuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new Map<unknown, unknown>();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const line = (): string => {
          const end = data.indexOf(0x0a, pos);
          if (end < 0) fail("unterminated GLOBAL name; the pickle is truncated or corrupt");
          const s = text(data.subarray(pos, end));
          pos = end + 1;
          return s;
        };
        const module = line();
        const name = line();
        stack.push(hooks.findClass(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(hooks.findClass(module as string, name as string));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const f = callable(pop());
        if (!Array.isArray(args)) fail(`REDUCE arguments for ${f.module}.${f.name} are a ${describe(args)}, not a tuple`);
        stack.push(f.call(args as unknown[]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = pop();
        stack.push(hooks.build(obj, state));
        break;
      }
      default:
        fail(`unsupported pickle opcode; this reader handles the protocol 2-5 opcodes torch.save writes (re-save the file with torch.save, or convert it to safetensors)`);
    }
  }
}

/** A short description of a value's kind for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return Object.isFrozen(v) ? `tuple of ${v.length}` : `list of ${v.length}`;
  if (v instanceof Map) return "dict";
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "object") {
    const c = v as Partial<PickleCallable>;
    if (typeof c.module === "string" && typeof c.name === "string") return `global ${c.module}.${c.name}`;
    return (v as object).constructor?.name ?? "object";
  }
  return typeof v === "number" || typeof v === "bigint" ? "int or float" : typeof v;
}
