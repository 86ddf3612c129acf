#pragma once
#include <napi.h>

namespace moediff {
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetNumThreads(const Napi::CallbackInfo& info);
Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info);
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info);
Napi::Value ManualSeed(const Napi::CallbackInfo& info);
Napi::Value GeneratorNew(const Napi::CallbackInfo& info);
Napi::Value GeneratorFree(const Napi::CallbackInfo& info);
Napi::Value GeneratorSeed(const Napi::CallbackInfo& info);
Napi::Value GeneratorGetState(const Napi::CallbackInfo& info);
Napi::Value GeneratorSetState(const Napi::CallbackInfo& info);
Napi::Value Versions(const Napi::CallbackInfo& info);
Napi::Value BenchConvStepCpp(const Napi::CallbackInfo& info);
}  // namespace moediff
