// The generic operator path: any ATen operator, called by schema name through
// the c10 dispatcher with a boxed IValue stack. Autograd, device dispatch and
// type promotion all happen inside libtorch exactly as for a direct call.
//
// An operator is resolved once (resolveOp) into an id; each argument's kind is
// read from the schema then, so a call only converts values. Arguments the
// caller leaves out (or passes as `undefined`) take the schema's default.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <sstream>
#include <string>
#include <vector>

#include "dispatch.h"
#include "errors.h"
#include "handles.h"

namespace moediff {
namespace {

enum class Kind : uint8_t { Tensor, Int, Float, Scalar, Bool, Str, Device, Generator, List, Unsupported };

struct ArgSpec {
  std::string name;
  Kind kind;
  Kind elem;         // for lists
  bool optional;     // the whole argument may be None
  bool elemOptional; // list elements may be None (Tensor?[])
  int32_t fixedN;    // int[2] and the like: a single number is repeated
  bool hasDefault;
  c10::IValue defaultValue;
  std::string typeName;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;  // "aten::conv2d" or "aten::add.Tensor"
  std::vector<ArgSpec> args;
};

std::vector<OpEntry> g_ops;

Kind kindOf(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType: return Kind::Int;
    case c10::TypeKind::SymIntType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::StringType: return Kind::Str;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ListType: return Kind::List;
    default: break;
  }
  // ScalarType, Layout and MemoryFormat are plain ints in every IValue; later
  // libtorch versions give them types of their own.
  const std::string s = type->str();
  if (s == "ScalarType" || s == "Layout" || s == "MemoryFormat") return Kind::Int;
  return Kind::Unsupported;
}

ArgSpec specOf(const c10::Argument& a) {
  ArgSpec spec;
  spec.name = a.name();
  spec.typeName = a.type()->str();
  c10::TypePtr type = a.type();
  spec.optional = false;
  if (type->kind() == c10::TypeKind::OptionalType) {
    spec.optional = true;
    type = type->castRaw<c10::OptionalType>()->getElementType();
  }
  spec.kind = kindOf(type);
  spec.elem = Kind::Unsupported;
  spec.elemOptional = false;
  if (spec.kind == Kind::List) {
    c10::TypePtr elem = type->castRaw<c10::ListType>()->getElementType();
    if (elem->kind() == c10::TypeKind::OptionalType) {
      spec.elemOptional = true;
      elem = elem->castRaw<c10::OptionalType>()->getElementType();
    }
    spec.elem = kindOf(elem);
  }
  spec.fixedN = a.N() ? *a.N() : 0;
  spec.hasDefault = a.default_value().has_value();
  if (spec.hasDefault) spec.defaultValue = *a.default_value();
  return spec;
}

[[noreturn]] void argError(Napi::Env env, const OpEntry& op, const ArgSpec& a, const std::string& msg) {
  throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' (" + a.typeName + ") " + msg);
}

int64_t toInt(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (!v.IsNumber()) argError(env, op, a, "must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  int64_t i = static_cast<int64_t>(d);
  if (static_cast<double>(i) != d) argError(env, op, a, "must be an integer, got " + std::to_string(d));
  return i;
}

double toFloat(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (!v.IsNumber()) argError(env, op, a, "must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool toBool(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (!v.IsBoolean()) argError(env, op, a, "must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

c10::IValue toScalar(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
  if (!v.IsNumber()) argError(env, op, a, "must be a number or boolean");
  double d = v.As<Napi::Number>().DoubleValue();
  // Integral JS numbers become integer scalars, as Python ints do, so that
  // int tensors stay int; anything else is a double.
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
    return c10::IValue(static_cast<int64_t>(d));
  }
  return c10::IValue(d);
}

c10::IValue toList(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (!v.IsArray()) {
    // int[2] given as 3 means [3, 3], as in PyTorch.
    if (v.IsNumber() && (a.elem == Kind::Int || a.elem == Kind::Float)) {
      int32_t n = a.fixedN > 0 ? a.fixedN : 1;
      if (a.elem == Kind::Int) return c10::IValue(c10::List<int64_t>(std::vector<int64_t>(n, toInt(env, op, a, v))));
      return c10::IValue(c10::List<double>(std::vector<double>(n, toFloat(env, op, a, v))));
    }
    argError(env, op, a, "must be an array");
  }
  Napi::Array arr = v.As<Napi::Array>();
  const uint32_t n = arr.Length();
  switch (a.elem) {
    case Kind::Int: {
      c10::List<int64_t> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(toInt(env, op, a, arr.Get(i)));
      return c10::IValue(std::move(out));
    }
    case Kind::Float: {
      c10::List<double> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(toFloat(env, op, a, arr.Get(i)));
      return c10::IValue(std::move(out));
    }
    case Kind::Bool: {
      c10::List<bool> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(toBool(env, op, a, arr.Get(i)));
      return c10::IValue(std::move(out));
    }
    case Kind::Tensor: {
      if (a.elemOptional) {
        c10::List<c10::optional<at::Tensor>> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
          Napi::Value e = arr.Get(i);
          if (e.IsNull() || e.IsUndefined()) {
            out.push_back(c10::nullopt);
          } else {
            out.push_back(tensorFromValue(env, e, (op.name + ": element of '" + a.name + "'").c_str()));
          }
        }
        return c10::IValue(std::move(out));
      }
      c10::List<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        out.push_back(tensorFromValue(env, arr.Get(i), (op.name + ": element of '" + a.name + "'").c_str()));
      }
      return c10::IValue(std::move(out));
    }
    case Kind::Scalar: {
      c10::impl::GenericList out(c10::NumberType::get());
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(toScalar(env, op, a, arr.Get(i)));
      return c10::IValue(std::move(out));
    }
    case Kind::Str: {
      c10::List<std::string> out;
      for (uint32_t i = 0; i < n; ++i) {
        Napi::Value e = arr.Get(i);
        if (!e.IsString()) argError(env, op, a, "must be an array of strings");
        out.push_back(e.As<Napi::String>().Utf8Value());
      }
      return c10::IValue(std::move(out));
    }
    default:
      argError(env, op, a, "is a list type this binding does not convert");
  }
}

c10::IValue toIValue(Napi::Env env, const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (v.IsNull()) {
    if (!a.optional) argError(env, op, a, "may not be null");
    return c10::IValue();
  }
  switch (a.kind) {
    case Kind::Tensor:
      return c10::IValue(tensorFromValue(env, v, (op.name + ": argument '" + a.name + "' (" + a.typeName + ")").c_str()));
    case Kind::Int: return c10::IValue(toInt(env, op, a, v));
    case Kind::Float: return c10::IValue(toFloat(env, op, a, v));
    case Kind::Scalar: return toScalar(env, op, a, v);
    case Kind::Bool: return c10::IValue(toBool(env, op, a, v));
    case Kind::Str:
      if (!v.IsString()) argError(env, op, a, "must be a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case Kind::Device:
      if (!v.IsString()) argError(env, op, a, "must be a device string such as 'cpu' or 'cuda:0'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case Kind::Generator:
      if (!v.IsNumber()) argError(env, op, a, "must be a Generator");
      return c10::IValue(generatorAt(env, v.As<Napi::Number>().Uint32Value()));
    case Kind::List: return toList(env, op, a, v);
    case Kind::Unsupported: break;
  }
  argError(env, op, a, "has a type this binding does not convert");
}

Napi::Value fromIValue(Napi::Env env, c10::IValue&& v, bool keepTensors);

Napi::Value fromTensor(Napi::Env env, at::Tensor&& t, bool keepTensors) {
  if (!keepTensors || !t.defined()) return env.Null();
  return Napi::Number::New(env, registerTensor(env, std::move(t)));
}

Napi::Value fromIValue(Napi::Env env, c10::IValue&& v, bool keepTensors) {
  if (v.isTensor()) return fromTensor(env, std::move(v).toTensor(), keepTensors);
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isComplexDouble()) {
    c10::complex<double> c = v.toComplexDouble();
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, c.real());
    out.Set(1u, c.imag());
    return out;
  }
  if (v.isTensorList()) {
    c10::List<at::Tensor> list = std::move(v).toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), fromTensor(env, list.get(i), keepTensors));
    return out;
  }
  if (v.isTuple() || v.isList()) {
    std::vector<c10::IValue> elems;
    if (v.isTuple()) {
      for (const auto& e : v.toTupleRef().elements()) elems.push_back(e);
    } else {
      for (const auto& e : v.toListRef()) elems.push_back(e);
    }
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, std::move(elems[i]), keepTensors));
    return out;
  }
  throw Napi::Error::New(env, "return value of type " + v.tagKind() + " is not supported by this binding");
}

std::string describeArgs(Napi::Env env, const OpEntry& op, const Napi::CallbackInfo& info) {
  std::ostringstream os;
  bool first = true;
  for (size_t i = 0; i + 1 < info.Length() && i < op.args.size(); ++i) {
    const ArgSpec& a = op.args[i];
    if (a.kind != Kind::Tensor || !info[i + 1].IsNumber()) continue;
    uint32_t id = info[i + 1].As<Napi::Number>().Uint32Value();
    at::Tensor t;
    try {
      t = tensorAt(env, id);
    } catch (...) {
      continue;
    }
    os << (first ? "" : ", ") << a.name << "=" << t.sizes() << " " << t.scalar_type();
    if (!t.device().is_cpu()) os << " " << t.device();
    first = false;
  }
  return first ? std::string() : " [" + os.str() + "]";
}

Napi::Value callImpl(const Napi::CallbackInfo& info, bool keepTensors) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "call: first argument must be an op id");
  const uint32_t opId = info[0].As<Napi::Number>().Uint32Value();
  if (opId >= g_ops.size()) throw Napi::Error::New(env, "call: unknown op id " + std::to_string(opId));
  const OpEntry& op = g_ops[opId];
  const size_t given = info.Length() - 1;
  if (given > op.args.size()) {
    throw Napi::TypeError::New(env, op.name + ": takes at most " + std::to_string(op.args.size()) +
                                        " arguments, got " + std::to_string(given));
  }
  static thread_local torch::jit::Stack stack;
  stack.clear();
  try {
    for (size_t i = 0; i < op.args.size(); ++i) {
      const ArgSpec& a = op.args[i];
      if (i < given && !info[i + 1].IsUndefined()) {
        stack.push_back(toIValue(env, op, a, info[i + 1]));
      } else if (a.hasDefault) {
        stack.push_back(a.defaultValue);
      } else if (a.optional) {
        stack.emplace_back();
      } else {
        throw Napi::TypeError::New(env, op.name + ": missing required argument '" + a.name + "' (" + a.typeName + ")");
      }
    }
  } catch (const Napi::Error&) {
    stack.clear();  // release any tensor references taken so far
    throw;
  } catch (const c10::Error& e) {
    stack.clear();
    throw Napi::Error::New(env, op.name + ": " + trimMessage(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    stack.clear();
    throw Napi::Error::New(env, op.name + ": " + trimMessage(e.what()));
  }
  try {
    op.handle.callBoxed(&stack);
  } catch (const c10::Error& e) {
    stack.clear();
    throw Napi::Error::New(env, op.name + ": " + trimMessage(e.what_without_backtrace()) + describeArgs(env, op, info));
  } catch (const std::exception& e) {
    stack.clear();
    throw Napi::Error::New(env, op.name + ": " + trimMessage(e.what()) + describeArgs(env, op, info));
  }
  Napi::Value result;
  if (stack.empty()) {
    result = env.Undefined();
  } else if (stack.size() == 1) {
    result = fromIValue(env, std::move(stack[0]), keepTensors);
  } else {
    Napi::Array out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, std::move(stack[i]), keepTensors));
    result = out;
  }
  stack.clear();
  return result;
}

}  // namespace

// resolveOp("aten::add.Tensor") -> id. Throws if libtorch has no such schema.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "resolveOp: expects 'namespace::name[.overload]'");
  const std::string full = info[0].As<Napi::String>().Utf8Value();
  const size_t sep = full.find("::");
  const size_t dot = full.find('.', sep == std::string::npos ? 0 : sep);
  const std::string name = dot == std::string::npos ? full : full.substr(0, dot);
  const std::string overload = dot == std::string::npos ? "" : full.substr(dot + 1);
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw Napi::Error::New(env, "resolveOp: libtorch has no operator '" + full + "'");
  OpEntry entry{*handle, full, {}};
  for (const c10::Argument& a : handle->schema().arguments()) {
    ArgSpec spec = specOf(a);
    if (spec.kind == Kind::Unsupported || (spec.kind == Kind::List && spec.elem == Kind::Unsupported)) {
      // Still resolvable: only an explicit value for this argument fails.
      spec.kind = Kind::Unsupported;
    }
    entry.args.push_back(std::move(spec));
  }
  g_ops.push_back(std::move(entry));
  return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
}

Napi::Value HasOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string full = info[0].As<Napi::String>().Utf8Value();
  const size_t sep = full.find("::");
  const size_t dot = full.find('.', sep == std::string::npos ? 0 : sep);
  const std::string name = dot == std::string::npos ? full : full.substr(0, dot);
  const std::string overload = dot == std::string::npos ? "" : full.substr(dot + 1);
  return Napi::Boolean::New(env, c10::Dispatcher::singleton().findSchema({name, overload}).has_value());
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t opId = info[0].As<Napi::Number>().Uint32Value();
  if (opId >= g_ops.size()) throw Napi::Error::New(env, "opSchema: unknown op id");
  std::ostringstream os;
  os << g_ops[opId].handle.schema();
  return Napi::String::New(env, os.str());
}

// call(opId, ...args): returns tensor ids (numbers), arrays of them, or plain values.
Napi::Value Call(const Napi::CallbackInfo& info) { return callImpl(info, true); }

// callInPlace(opId, ...args): for ops that mutate an argument; creates no handles.
Napi::Value CallInPlace(const Napi::CallbackInfo& info) {
  callImpl(info, false);
  return info.Env().Undefined();
}

}  // namespace moediff
