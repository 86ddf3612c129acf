#pragma once
#include <napi.h>

namespace moediff {
Napi::Value ResolveOp(const Napi::CallbackInfo& info);
Napi::Value HasOp(const Napi::CallbackInfo& info);
Napi::Value OpSchema(const Napi::CallbackInfo& info);
Napi::Value Call(const Napi::CallbackInfo& info);
Napi::Value CallInPlace(const Napi::CallbackInfo& info);
}  // namespace moediff
