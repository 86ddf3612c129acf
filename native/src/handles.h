// Tensor and generator handle tables.
//
// JavaScript never sees a pointer: it holds a small integer id into a table of
// at::Tensor (an intrusive pointer; libtorch's refcount keeps storage alive for
// views). CPU storage bytes are reported to V8 once per storage, however many
// handles share it, so the garbage collector feels native memory pressure.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>

namespace moediff {

// Takes ownership of `t` (must be defined) and returns its new id (>= 1).
uint32_t registerTensor(Napi::Env env, at::Tensor t);

// The tensor behind `id`; throws a JS Error if the id is not live.
at::Tensor& tensorAt(Napi::Env env, uint32_t id);
at::Tensor& tensorFromValue(Napi::Env env, const Napi::Value& v, const char* what);

// Frees `id`. Freeing an id twice is a caller bug and throws.
void releaseTensor(Napi::Env env, uint32_t id);

// Holds back the reports to V8 until the matching resume, which tells the net
// change (nested pauses count). tidy() pauses around its outermost scope.
void pauseMemoryReports();
void resumeMemoryReports(Napi::Env env);

// What the reporting holds: nested pauses, bytes not yet told, and V8's external-memory total.
struct MemoryReportState {
  int32_t paused;
  int64_t unreported;
  int64_t v8External;
};
MemoryReportState memoryReportState(Napi::Env env);

int64_t liveTensorCount();
int64_t liveTensorBytes();

uint32_t registerGenerator(at::Generator g);
at::Generator& generatorAt(Napi::Env env, uint32_t id);
void releaseGenerator(Napi::Env env, uint32_t id);

}  // namespace moediff
