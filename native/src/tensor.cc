// Tensors in and out of JavaScript: bytes, metadata, freeing, memory totals.
#include <ATen/ATen.h>

#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "handles.h"
#include "tensor.h"

namespace moediff {
namespace {

std::vector<int64_t> shapeFromValue(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, "shape must be an array of integers");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, "shape must be an array of integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::RangeError::New(env, "shape entries must be non-negative integers, got " + std::to_string(d));
    }
    shape[i] = static_cast<int64_t>(d);
  }
  return shape;
}

uint32_t idArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a tensor handle");
  return info[i].As<Napi::Number>().Uint32Value();
}

}  // namespace

// fromBytes(typedArrayOrBuffer, shape, scalarType, device) -> id. Copies.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "fromBytes", [&]() -> Napi::Value {
    const uint8_t* data = nullptr;
    size_t length = 0;
    if (info[0].IsTypedArray()) {
      Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
      data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      length = ta.ByteLength();
    } else if (info[0].IsArrayBuffer()) {
      Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
      data = static_cast<const uint8_t*>(ab.Data());
      length = ab.ByteLength();
    } else {
      throw Napi::TypeError::New(env, "fromBytes: data must be a typed array or ArrayBuffer");
    }
    std::vector<int64_t> shape = shapeFromValue(env, info[1]);
    const int32_t code = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : -1;
    if (code < 0 || code >= static_cast<int32_t>(at::ScalarType::NumOptions) || c10::isQIntType(static_cast<at::ScalarType>(code)) ||
        code == static_cast<int32_t>(at::ScalarType::ComplexHalf) || code == static_cast<int32_t>(at::ScalarType::Undefined)) {
      throw Napi::TypeError::New(env, "fromBytes: unsupported scalar type code " + std::to_string(code));
    }
    auto dtype = static_cast<at::ScalarType>(code);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    const size_t expected = t.nbytes();
    if (expected != length) {
      throw Napi::RangeError::New(env, "fromBytes: shape " + c10::str(t.sizes()) + " of " + c10::toString(dtype) +
                                           " needs " + std::to_string(expected) + " bytes, got " + std::to_string(length));
    }
    if (length > 0) std::memcpy(t.data_ptr(), data, length);
    if (info.Length() > 3 && info[3].IsString()) {
      c10::Device device(info[3].As<Napi::String>().Utf8Value());  // throws c10::Error on a bad string
      if (!device.is_cpu()) t = t.to(device);
    }
    return Napi::Number::New(env, registerTensor(env, std::move(t)));
  });
}

// toBytes(id) -> ArrayBuffer holding the tensor's elements, contiguous, on CPU.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "toBytes", [&]() -> Napi::Value {
    at::Tensor t = tensorAt(env, idArg(info, 0));
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    if (c.is_conj()) c = c.resolve_conj();
    if (c.is_neg()) c = c.resolve_neg();
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, c.nbytes());
    if (c.nbytes() > 0) std::memcpy(ab.Data(), c.data_ptr(), c.nbytes());
    return ab;
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  releaseTensor(env, idArg(info, 0));
  return env.Undefined();
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = tensorAt(env, idArg(info, 0));
  Napi::Array out = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(t.size(i)));
  return out;
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = tensorAt(env, idArg(info, 0));
  Napi::Array out = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(t.stride(i)));
  return out;
}

Napi::Value ScalarTypeOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<int>(tensorAt(env, idArg(info, 0)).scalar_type()));
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::String::New(env, tensorAt(env, idArg(info, 0)).device().str());
}

Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, tensorAt(env, idArg(info, 0)).is_contiguous());
}

// memory() -> [live tensor handles, bytes of distinct CPU storages they hold]
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, static_cast<double>(liveTensorCount()));
  out.Set(1u, static_cast<double>(liveTensorBytes()));
  return out;
}

// pauseMemoryReports() / resumeMemoryReports(): see handles.h.
Napi::Value PauseMemoryReports(const Napi::CallbackInfo& info) {
  pauseMemoryReports();
  return info.Env().Undefined();
}

// memoryReportState() -> [nested pauses, bytes not yet told to V8, V8's external-memory total]
Napi::Value MemoryReportStateOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MemoryReportState s = memoryReportState(env);
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, static_cast<double>(s.paused));
  out.Set(1u, static_cast<double>(s.unreported));
  out.Set(2u, static_cast<double>(s.v8External));
  return out;
}

Napi::Value ResumeMemoryReports(const Napi::CallbackInfo& info) {
  resumeMemoryReports(info.Env());
  return info.Env().Undefined();
}

}  // namespace moediff
