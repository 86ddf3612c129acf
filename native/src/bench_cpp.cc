// The engine benchmark's reference: the same conv-net training step as
// bench/engine.ts, written entirely in C++ with libtorch's own nn and optim,
// so the TypeScript path can be compared in the same process and run.
#include <torch/torch.h>

#include <chrono>

#include "errors.h"
#include "runtime.h"

namespace moediff {

// benchConvStepCpp(batch, channels, size, layers, warmup, iters) -> milliseconds per step[]
Napi::Value BenchConvStepCpp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, "benchConvStepCpp", [&]() -> Napi::Value {
    const int64_t batch = info[0].As<Napi::Number>().Int64Value();
    const int64_t channels = info[1].As<Napi::Number>().Int64Value();
    const int64_t size = info[2].As<Napi::Number>().Int64Value();
    const int64_t layers = info[3].As<Napi::Number>().Int64Value();
    const int64_t warmup = info[4].As<Napi::Number>().Int64Value();
    const int64_t iters = info[5].As<Napi::Number>().Int64Value();

    torch::nn::Sequential net;
    for (int64_t i = 0; i < layers; ++i) {
      net->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)));
      if (i + 1 < layers) net->push_back(torch::nn::ReLU());
    }
    auto params = net->parameters();
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-3).weight_decay(1e-2));
    torch::Tensor x = torch::randn({batch, channels, size, size});
    torch::Tensor y = torch::randn({batch, channels, size, size});

    Napi::Array out = Napi::Array::New(env, static_cast<size_t>(iters));
    for (int64_t step = 0; step < warmup + iters; ++step) {
      const auto t0 = std::chrono::steady_clock::now();
      for (auto& p : params) p.mutable_grad().reset();  // zero_grad(set_to_none)
      torch::Tensor loss = torch::mse_loss(net->forward(x), y);
      loss.backward();
      opt.step();
      const auto t1 = std::chrono::steady_clock::now();
      if (step >= warmup) {
        out.Set(static_cast<uint32_t>(step - warmup), std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    }
    return out;
  });
}

}  // namespace moediff
