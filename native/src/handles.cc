#include "handles.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace moediff {
namespace {

struct StorageEntry {
  int32_t refs;
  int64_t bytes;
};

std::vector<at::Tensor> g_tensors(1);           // slot 0 is never used
std::vector<const void*> g_storageKey(1);       // storage counted for each slot
std::vector<uint32_t> g_freeTensorIds;
std::unordered_map<const void*, StorageEntry> g_storages;
int64_t g_liveTensors = 0;
int64_t g_liveBytes = 0;
int64_t g_unreportedBytes = 0;                   // delta not yet told to V8
constexpr int64_t kReportThreshold = 1 << 20;
// While a tidy() scope runs, every tensor it makes is held by the scope (the
// collector could not free it) and is disposed when the scope ends, so telling
// V8 about it only triggers collections that free nothing: an E1 forward swings
// ~125 MB above its start, past V8's 64 MB external-memory step, and paid a full
// mark-compact every call (69.5 -> 61.6 ms per forward, batch 4, 2 threads).
// Reports are held while paused and the net change is told when it resumes.
int32_t g_reportsPaused = 0;

std::vector<at::Generator> g_generators(1);
std::vector<uint32_t> g_freeGeneratorIds;

void reportToV8(Napi::Env env, int64_t delta) {
  g_unreportedBytes += delta;
  if (g_reportsPaused > 0) return;
  if (g_unreportedBytes >= kReportThreshold || g_unreportedBytes <= -kReportThreshold) {
    Napi::MemoryManagement::AdjustExternalMemory(env, g_unreportedBytes);
    g_unreportedBytes = 0;
  }
}

const void* countStorage(Napi::Env env, const at::Tensor& t) {
  if (!t.has_storage() || !t.device().is_cpu()) return nullptr;
  const c10::Storage& storage = t.storage();
  const void* key = storage.unsafeGetStorageImpl();
  auto it = g_storages.find(key);
  if (it != g_storages.end()) {
    it->second.refs += 1;
    return key;
  }
  int64_t bytes = static_cast<int64_t>(storage.nbytes());
  g_storages.emplace(key, StorageEntry{1, bytes});
  g_liveBytes += bytes;
  reportToV8(env, bytes);
  return key;
}

void uncountStorage(Napi::Env env, const void* key) {
  if (key == nullptr) return;
  auto it = g_storages.find(key);
  if (it == g_storages.end()) return;
  if (--it->second.refs == 0) {
    g_liveBytes -= it->second.bytes;
    reportToV8(env, -it->second.bytes);
    g_storages.erase(it);
  }
}

// Tensor ids live in their own range, so a stray small integer (a dim, a
// size) passed where a tensor belongs is rejected instead of naming a tensor.
constexpr uint32_t kTensorIdBase = 1u << 30;

[[noreturn]] void throwBadId(Napi::Env env, const char* kind, uint32_t id) {
  throw Napi::Error::New(env, std::string(kind) + " handle " + std::to_string(id) +
                                  " is not live (disposed, or not a " + kind + ")");
}

}  // namespace

void pauseMemoryReports() { g_reportsPaused += 1; }

MemoryReportState memoryReportState(Napi::Env env) {
  return {g_reportsPaused, g_unreportedBytes, Napi::MemoryManagement::AdjustExternalMemory(env, 0)};
}

void resumeMemoryReports(Napi::Env env) {
  if (g_reportsPaused > 0) g_reportsPaused -= 1;
  if (g_reportsPaused == 0) reportToV8(env, 0);
}

uint32_t registerTensor(Napi::Env env, at::Tensor t) {
  uint32_t id;
  if (!g_freeTensorIds.empty()) {
    id = g_freeTensorIds.back();
    g_freeTensorIds.pop_back();
  } else {
    id = static_cast<uint32_t>(g_tensors.size());
    g_tensors.emplace_back();
    g_storageKey.push_back(nullptr);
  }
  g_storageKey[id] = countStorage(env, t);
  g_tensors[id] = std::move(t);
  g_liveTensors += 1;
  return kTensorIdBase + id;
}

at::Tensor& tensorAt(Napi::Env env, uint32_t id) {
  const uint32_t slot = id - kTensorIdBase;
  if (id <= kTensorIdBase || slot >= g_tensors.size() || !g_tensors[slot].defined()) throwBadId(env, "tensor", id);
  return g_tensors[slot];
}

at::Tensor& tensorFromValue(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a tensor");
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d <= kTensorIdBase || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a tensor, got the number " + std::to_string(d));
  }
  return tensorAt(env, static_cast<uint32_t>(d));
}

void releaseTensor(Napi::Env env, uint32_t id) {
  at::Tensor& t = tensorAt(env, id);
  const uint32_t slot = id - kTensorIdBase;
  uncountStorage(env, g_storageKey[slot]);
  g_storageKey[slot] = nullptr;
  t.reset();
  g_freeTensorIds.push_back(slot);
  g_liveTensors -= 1;
}

int64_t liveTensorCount() { return g_liveTensors; }
int64_t liveTensorBytes() { return g_liveBytes; }

uint32_t registerGenerator(at::Generator g) {
  uint32_t id;
  if (!g_freeGeneratorIds.empty()) {
    id = g_freeGeneratorIds.back();
    g_freeGeneratorIds.pop_back();
    g_generators[id] = std::move(g);
  } else {
    id = static_cast<uint32_t>(g_generators.size());
    g_generators.push_back(std::move(g));
  }
  return id;
}

at::Generator& generatorAt(Napi::Env env, uint32_t id) {
  if (id == 0 || id >= g_generators.size() || !g_generators[id].defined()) throwBadId(env, "generator", id);
  return g_generators[id];
}

void releaseGenerator(Napi::Env env, uint32_t id) {
  generatorAt(env, id) = at::Generator();
  g_freeGeneratorIds.push_back(id);
}

}  // namespace moediff
