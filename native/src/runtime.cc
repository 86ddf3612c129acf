// Process-wide settings: threads, seeds, generators, devices, versions.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <mutex>
#include <string>

#include "errors.h"
#include "handles.h"
#include "runtime.h"

namespace moediff {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "setNumThreads", [&]() -> Napi::Value {
    const int n = info[0].As<Napi::Number>().Int32Value();
    if (n < 1) throw Napi::RangeError::New(env, "setNumThreads: thread count must be >= 1, got " + std::to_string(n));
    at::set_num_threads(n);
    return env.Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

// manualSeed(seed): seeds the default generators of every device.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "manualSeed", [&]() -> Napi::Value {
    const auto seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    {
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    const auto cudaCount = torch::cuda::device_count();
    for (size_t i = 0; i < cudaCount; ++i) {
      at::Generator gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    return env.Undefined();
  });
}

// generatorNew(device, seed) -> id
Napi::Value GeneratorNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "Generator", [&]() -> Napi::Value {
    c10::Device device(info[0].As<Napi::String>().Utf8Value());
    const auto seed = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    at::Generator gen = at::globalContext().defaultGenerator(device).clone();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    return Napi::Number::New(env, registerGenerator(std::move(gen)));
  });
}

Napi::Value GeneratorFree(const Napi::CallbackInfo& info) {
  releaseGenerator(info.Env(), info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value GeneratorSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Generator& gen = generatorAt(env, info[0].As<Napi::Number>().Uint32Value());
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()));
  return env.Undefined();
}

// generatorGetState(id) -> tensor id (uint8), generatorSetState(id, tensorId)
Napi::Value GeneratorGetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "Generator.getState", [&]() -> Napi::Value {
    at::Generator& gen = generatorAt(env, info[0].As<Napi::Number>().Uint32Value());
    std::lock_guard<std::mutex> lock(gen.mutex());
    return Napi::Number::New(env, registerTensor(env, gen.get_state()));
  });
}

Napi::Value GeneratorSetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "Generator.setState", [&]() -> Napi::Value {
    at::Generator& gen = generatorAt(env, info[0].As<Napi::Number>().Uint32Value());
    const at::Tensor& state = tensorFromValue(env, info[1], "Generator.setState: state");
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return env.Undefined();
  });
}

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("libtorch", TORCH_VERSION);
  out.Set("parallel", at::get_parallel_info());
  return out;
}

}  // namespace moediff
