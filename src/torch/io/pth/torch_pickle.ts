// The torch side of unpickling a torch.save archive: the allow-list of Python
// globals and what each stands for, storages (persistent ids) and tensors
// (_rebuild_tensor_v2 and friends) as plain descriptions. Nothing is read from
// the storages here; PthArchive.materialize() does that on demand.
//
// Allowed globals: collections.OrderedDict, torch._utils._rebuild_tensor(_v2),
// torch._utils._rebuild_parameter(_with_state), torch._tensor._rebuild_from_type_v2
// (plain Tensor/Parameter only), torch.Tensor, torch.nn.parameter.Parameter,
// torch.Size, the torch.*Storage classes, and _codecs.encode (latin1 only: how
// protocol 2 pickles bytes). Any other global is refused when the pickle names
// it, before anything could use it.
import type * as T from "../../index.js";
import { TorchFileError } from "./errors.js";
import { describe, PickleError, unpickle, type PickleCallable } from "./pickle.js";

/** Storage classes torch.save names in persistent ids, and the dtype of their elements. */
const STORAGE_DTYPES: ReadonlyMap<string, T.DType> = new Map<string, T.DType>([
  ["DoubleStorage", "float64"],
  ["FloatStorage", "float32"],
  ["HalfStorage", "float16"],
  ["BFloat16Storage", "bfloat16"],
  ["LongStorage", "int64"],
  ["IntStorage", "int32"],
  ["ShortStorage", "int16"],
  ["CharStorage", "int8"],
  ["ByteStorage", "uint8"],
  ["BoolStorage", "bool"],
  ["ComplexFloatStorage", "complex64"],
  ["ComplexDoubleStorage", "complex128"],
]);

/** One storage of the archive (`<prefix>/data/<key>`). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: T.DType,
    readonly numel: number,
    readonly location: string,
  ) {}
}

/** A tensor described by the pickle: a strided view of a storage. Materialise it with PthArchive.materialize(). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {}
  get dtype(): T.DType {
    return this.storage.dtype;
  }
}

interface Global extends PickleCallable {
  readonly storageDtype?: T.DType;
}

function global(module: string, name: string, call: (args: readonly unknown[]) => unknown, storageDtype?: T.DType): Global {
  return { module, name, call, storageDtype };
}

const isIntList = (v: unknown): v is readonly number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
const isEmptyState = (v: unknown): boolean => v === null || v === undefined || (v instanceof Map && v.size === 0);

/**
 * Runs a torch.save data.pkl under the allow-list described at the top of this file; tensors come out as
 * TensorRef, storages as StorageRef. `source` and `path` name it in errors.
 */
export function unpickleTorch(data: Uint8Array, source: string, path: string): unknown {
  const storages = new Map<string, StorageRef>();
  const allowed = new Map<string, Global>();
  const add = (g: Global): void => {
    allowed.set(`${g.module}.${g.name}`, g);
  };
  const bad = (what: string): never => {
    throw new TorchFileError(path, `${what}; the file is corrupt or not a tensor checkpoint`);
  };
  const asTensorRef = (v: unknown, what: string): TensorRef => (v instanceof TensorRef ? v : bad(`${what} expects a tensor, got a ${describe(v)}`));

  const rebuildTensor = (args: readonly unknown[], fn: string): TensorRef => {
    const [storage, offset, size, stride, requiresGrad] = args;
    if (!(storage instanceof StorageRef)) return bad(`${fn}: the first argument is a ${describe(storage)}, not a storage`);
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) return bad(`${fn}: bad storage offset ${String(offset)}`);
    if (!isIntList(size) || !isIntList(stride) || size.length !== stride.length) return bad(`${fn}: bad size/stride`);
    return new TensorRef(storage, offset as number, [...size], [...stride], requiresGrad === true);
  };
  add(global("collections", "OrderedDict", (args) => {
    const m = new Map<unknown, unknown>();
    const items = args[0];
    if (Array.isArray(items)) {
      for (const pair of items) {
        if (!Array.isArray(pair) || pair.length !== 2) return bad("OrderedDict() expects (key, value) pairs");
        m.set(pair[0], pair[1]);
      }
    }
    return m;
  }));
  add(global("torch._utils", "_rebuild_tensor_v2", (args) => rebuildTensor(args, "_rebuild_tensor_v2")));
  add(global("torch._utils", "_rebuild_tensor", (args) => rebuildTensor([...args, false], "_rebuild_tensor")));
  const rebuildParameter = (args: readonly unknown[]): TensorRef => {
    const t = asTensorRef(args[0], "_rebuild_parameter");
    return new TensorRef(t.storage, t.storageOffset, t.shape, t.stride, args[1] === true);
  };
  add(global("torch._utils", "_rebuild_parameter", rebuildParameter));
  add(global("torch._utils", "_rebuild_parameter_with_state", rebuildParameter));
  const tensorType = global("torch", "Tensor", () => bad("torch.Tensor cannot be called here"));
  const parameterType = global("torch.nn.parameter", "Parameter", () => bad("Parameter cannot be called here"));
  add(tensorType);
  add(parameterType);
  add(global("torch._tensor", "_rebuild_from_type_v2", (args) => {
    const [fn, type, fnArgs, state] = args;
    if (type !== tensorType && type !== parameterType) return bad(`_rebuild_from_type_v2 for a ${describe(type)}; only plain tensors are supported`);
    if (!isEmptyState(state)) return bad("_rebuild_from_type_v2 with Python state on a tensor (a tensor subclass?) is not supported");
    const f = fn as Partial<PickleCallable> | null;
    if (f === null || typeof f !== "object" || typeof f.call !== "function" || !Array.isArray(fnArgs)) return bad("_rebuild_from_type_v2 with a bad rebuild function");
    return f.call(fnArgs as unknown[]);
  }));
  add(global("torch", "Size", (args) => (isIntList(args[0]) ? Object.freeze([...args[0]]) : bad("torch.Size expects a tuple of sizes"))));
  add(global("_codecs", "encode", (args) => {
    const [s, encoding] = args;
    if (typeof s !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) return bad("_codecs.encode is only allowed for latin1 bytes");
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }));
  for (const [name, dtype] of STORAGE_DTYPES) add(global("torch", name, () => bad(`torch.${name} cannot be called here`), dtype));

  // Attributes set by BUILD on dicts (a state dict's _metadata), kept out of the way.
  const buildState = new WeakMap<object, unknown>();

  try {
    return unpickle(
      data,
      {
        findClass(module, name) {
          const g = allowed.get(`${module}.${name}`);
          if (g === undefined) {
            throw new TorchFileError(
              path,
              `the pickle refers to the Python global '${module}.${name}', which is not part of a tensor checkpoint; refusing to load it (nothing was executed). Save plain state dicts (model.state_dict()) with torch.save, or convert to safetensors`,
            );
          }
          return g;
        },
        persistentLoad(pid) {
          if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") return bad(`unexpected persistent id (${describe(pid)})`);
          const [, type, key, location, numel] = pid as unknown[];
          const dtype = (type as Global | null)?.storageDtype;
          if (dtype === undefined) return bad(`persistent id names a ${describe(type)}, not a storage class`);
          if (typeof key !== "string" || typeof location !== "string" || !Number.isSafeInteger(numel) || (numel as number) < 0) {
            return bad("malformed storage persistent id");
          }
          const seen = storages.get(key);
          if (seen !== undefined) {
            if (seen.dtype !== dtype) return bad(`storage '${key}' is used as both ${seen.dtype} and ${dtype}, which is not supported`);
            return seen;
          }
          const ref = new StorageRef(key, dtype, numel as number, location);
          storages.set(key, ref);
          return ref;
        },
        build(obj, state) {
          if (obj instanceof Map) {
            buildState.set(obj, state);
            return obj;
          }
          if (obj instanceof TensorRef && isEmptyState(state)) return obj;
          return bad(`BUILD (setstate) on a ${describe(obj)} is not supported`);
        },
      },
      source,
    );
  } catch (e) {
    if (e instanceof PickleError) throw new TorchFileError(path, e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message, { cause: e });
    throw e;
  }
}
