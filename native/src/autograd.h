#pragma once
#include <napi.h>

namespace moediff {
Napi::Value Backward(const Napi::CallbackInfo& info);
Napi::Value Grad(const Napi::CallbackInfo& info);
Napi::Value GetGrad(const Napi::CallbackInfo& info);
Napi::Value SetGrad(const Napi::CallbackInfo& info);
Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
Napi::Value IsLeaf(const Napi::CallbackInfo& info);
Napi::Value RetainGrad(const Napi::CallbackInfo& info);
Napi::Value GradEnabled(const Napi::CallbackInfo& info);
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info);
Napi::Value InferenceModeEnter(const Napi::CallbackInfo& info);
Napi::Value InferenceModeExit(const Napi::CallbackInfo& info);
Napi::Value IsInferenceMode(const Napi::CallbackInfo& info);
}  // namespace moediff
