// Autograd entry points: backward, grad, requires_grad, grad mode.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <memory>
#include <vector>
#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "autograd.h"
#include "errors.h"
#include "handles.h"

namespace moediff {
namespace {

std::vector<at::Tensor> tensorList(Napi::Env env, const Napi::Value& v, bool allowNull, const char* what) {
  std::vector<at::Tensor> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  Napi::Array arr = v.As<Napi::Array>();
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (allowNull && (e.IsNull() || e.IsUndefined())) {
      out.emplace_back();
    } else {
      out.push_back(tensorFromValue(env, e, what));
    }
  }
  return out;
}

uint32_t idArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a tensor handle");
  return info[i].As<Napi::Number>().Uint32Value();
}

}  // namespace

// backward(outputs[], grads[] | null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "backward", [&]() -> Napi::Value {
    auto outputs = tensorList(env, info[0], false, "backward: output");
    auto grads = tensorList(env, info[1], true, "backward: gradient");
    const bool retain = info[2].ToBoolean().Value();
    const bool create = info[3].ToBoolean().Value();
    torch::autograd::backward(outputs, grads, retain, create);
    return env.Undefined();
  });
}

// grad(outputs[], inputs[], gradOutputs[] | null, retainGraph, createGraph, allowUnused) -> (id | null)[]
Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "autograd.grad", [&]() -> Napi::Value {
    auto outputs = tensorList(env, info[0], false, "grad: output");
    auto inputs = tensorList(env, info[1], false, "grad: input");
    auto gradOutputs = tensorList(env, info[2], true, "grad: gradient");
    const bool retain = info[3].ToBoolean().Value();
    const bool create = info[4].ToBoolean().Value();
    const bool allowUnused = info[5].ToBoolean().Value();
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    Napi::Array out = Napi::Array::New(env, grads.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      if (grads[i].defined()) {
        out.Set(static_cast<uint32_t>(i), static_cast<double>(registerTensor(env, std::move(grads[i]))));
      } else {
        out.Set(static_cast<uint32_t>(i), env.Null());
      }
    }
    return out;
  });
}

Napi::Value GetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& g = tensorAt(env, idArg(info, 0)).grad();
  if (!g.defined()) return env.Null();
  return Napi::Number::New(env, registerTensor(env, g));
}

// setGrad(id, gradId | null)
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "setGrad", [&]() -> Napi::Value {
    at::Tensor& t = tensorAt(env, idArg(info, 0));
    if (info[1].IsNull() || info[1].IsUndefined()) {
      t.mutable_grad().reset();
    } else {
      const at::Tensor& g = tensorFromValue(env, info[1], "setGrad: gradient");
      TORCH_CHECK(g.sizes() == t.sizes(), "gradient shape ", g.sizes(), " does not match tensor shape ", t.sizes());
      t.mutable_grad() = g;
    }
    return env.Undefined();
  });
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, tensorAt(env, idArg(info, 0)).requires_grad());
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "requiresGrad_", [&]() -> Napi::Value {
    tensorAt(env, idArg(info, 0)).requires_grad_(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, tensorAt(env, idArg(info, 0)).is_leaf());
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "retainGrad", [&]() -> Napi::Value {
    tensorAt(env, idArg(info, 0)).retain_grad();
    return env.Undefined();
  });
}

Napi::Value GradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// setGradEnabled(bool) -> previous value
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  const bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

// Inference mode (torch.inference_mode): no autograd graph, no version counters, no view tracking.
// A guard lives from inferenceModeEnter to the matching inferenceModeExit, on this thread; the JS
// side (src/torch/autograd.ts inferenceMode) pairs them in try/finally, so they nest as scopes do.
namespace {
thread_local std::vector<std::unique_ptr<c10::InferenceMode>> g_inferenceGuards;
}

// inferenceModeEnter() -> depth after entering
Napi::Value InferenceModeEnter(const Napi::CallbackInfo& info) {
  g_inferenceGuards.push_back(std::make_unique<c10::InferenceMode>(true));
  return Napi::Number::New(info.Env(), static_cast<double>(g_inferenceGuards.size()));
}

// inferenceModeExit(depth): leaves the scope entered at `depth` (the innermost one).
Napi::Value InferenceModeExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto depth = static_cast<size_t>(info[0].As<Napi::Number>().Uint32Value());
  if (depth == 0 || depth != g_inferenceGuards.size()) {
    throw Napi::Error::New(env, "inferenceModeExit: scopes must close innermost first (depth " + std::to_string(depth) + ", open " + std::to_string(g_inferenceGuards.size()) + ")");
  }
  g_inferenceGuards.pop_back();
  return env.Undefined();
}

Napi::Value IsInferenceMode(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
}

}  // namespace moediff
