#pragma once
#include <napi.h>

namespace moediff {
Napi::Value FromBytes(const Napi::CallbackInfo& info);
Napi::Value ToBytes(const Napi::CallbackInfo& info);
Napi::Value Free(const Napi::CallbackInfo& info);
Napi::Value Shape(const Napi::CallbackInfo& info);
Napi::Value Strides(const Napi::CallbackInfo& info);
Napi::Value ScalarTypeOf(const Napi::CallbackInfo& info);
Napi::Value DeviceOf(const Napi::CallbackInfo& info);
Napi::Value IsContiguous(const Napi::CallbackInfo& info);
Napi::Value Memory(const Napi::CallbackInfo& info);
Napi::Value PauseMemoryReports(const Napi::CallbackInfo& info);
Napi::Value ResumeMemoryReports(const Napi::CallbackInfo& info);
Napi::Value MemoryReportStateOf(const Napi::CallbackInfo& info);
}  // namespace moediff
