// A caching allocator for libtorch's CPU tensors.
//
// Tensors are freed a scope at a time (tidy), so the same large buffers (activations, attention
// scores, im2col and GEMM workspaces) are taken and given back hundreds of times per enhanced slice.
// glibc serves a large block with a fresh mmap and unmaps it when freed, so every use faults its pages
// in again: an enhancement spent a third of its time in the kernel (docs/benchmarks.md). This keeps
// freed blocks of 256 KiB and more in per-size free lists and hands them out again, as PyTorch's CUDA
// caching allocator does for device memory:
// - sizes are rounded up to a multiple of 1/8 of their power of two (at most 12.5% more);
// - a request takes the smallest cached block that fits it and is at most 1.5 times its size
//   (best fit), of those the one freed last (still warm in the CPU's caches), else a new block;
// - the cache holds at most MOEDIFF_CPU_CACHE_MB (default 1024) MiB of freed blocks; past that the
//   largest cached blocks go back to the system first;
// - smaller requests go to malloc, whose heap already reuses them (M_MMAP_THRESHOLD in addon.cc).
// It applies to every tensor storage libtorch allocates on the CPU, in every process and thread that
// loads the addon. MOEDIFF_CPU_ALLOCATOR=system keeps libtorch's own allocator (for comparisons).
#include "cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <map>
#include <unordered_map>
#include <vector>

namespace moediff {
namespace {

constexpr size_t kAlignment = 64;            // c10's own CPU alignment
constexpr size_t kMinCached = 256 * 1024;    // below this, malloc's heap reuses blocks already

size_t roundSize(size_t n) {
  if (n < kMinCached) return n;
  size_t p = 1;
  while (p < n) p <<= 1;
  const size_t step = p / 8;
  return (n + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limit) : limit_(limit) {}

  c10::DataPtr allocate(size_t nbytes) const override {
    void* p = const_cast<CachingCpuAllocator*>(this)->take(nbytes);
    return {p, p, &CachingCpuAllocator::Release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::Release; }

  static void Release(void* p);

  struct Stats {
    size_t cachedBytes, cachedBlocks, liveBytes, hits, misses;
  };
  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {cachedBytes_, cachedBlocks_, liveBytes_, hits_, misses_};
  }
  size_t limit() const { return limit_; }

  void emptyCache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, block] : free_) std::free(block);
    free_.clear();
    cachedBytes_ = 0;
    cachedBlocks_ = 0;
  }

 private:
  void* take(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    const size_t size = roundSize(nbytes);
    if (size >= kMinCached) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= size + size / 2) {
        const size_t got = it->first;
        // Of the cached blocks of that size, the one freed last: it is likeliest still in the CPU's
        // caches (a multimap keeps equal keys in insertion order; the first would be the coldest).
        it = std::prev(free_.upper_bound(got));
        void* p = it->second;
        free_.erase(it);
        cachedBytes_ -= got;
        cachedBlocks_ -= 1;
        hits_ += 1;
        sizes_[p] = got;
        liveBytes_ += got;
        return p;
      }
      misses_ += 1;
    }
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) {
      emptyCache();  // give the cache back and try once more before failing
      if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) {
        TORCH_CHECK(false, "CPU out of memory: could not allocate ", nbytes, " bytes");
      }
    }
    if (size >= kMinCached) {
      std::lock_guard<std::mutex> lock(mu_);
      sizes_[p] = size;
      liveBytes_ += size;
    }
    return p;
  }

  void give(void* p) {
    if (p == nullptr) return;
    std::vector<void*> release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sizes_.find(p);
      if (it == sizes_.end()) {
        release.push_back(p);  // a small block: malloc's own
      } else {
        const size_t size = it->second;
        sizes_.erase(it);
        liveBytes_ -= size;
        free_.emplace(size, p);
        cachedBytes_ += size;
        cachedBlocks_ += 1;
        while (cachedBytes_ > limit_ && !free_.empty()) {
          auto largest = std::prev(free_.end());
          cachedBytes_ -= largest->first;
          cachedBlocks_ -= 1;
          release.push_back(largest->second);
          free_.erase(largest);
        }
      }
    }
    for (void* b : release) std::free(b);
  }

  const size_t limit_;
  std::mutex mu_;
  std::multimap<size_t, void*> free_;        // cached blocks by size
  std::unordered_map<void*, size_t> sizes_;  // cached-size blocks in use
  size_t cachedBytes_ = 0, cachedBlocks_ = 0, liveBytes_ = 0, hits_ = 0, misses_ = 0;
};

// Never destroyed: tensors may be freed during process exit, after static destructors run.
CachingCpuAllocator* g_allocator = nullptr;

}  // namespace

void CachingCpuAllocator::Release(void* p) { g_allocator->give(p); }

void InstallCpuAllocator() {
  const char* which = std::getenv("MOEDIFF_CPU_ALLOCATOR");
  if (which != nullptr && std::string(which) == "system") return;
  size_t limitMb = 1024;
  if (const char* mb = std::getenv("MOEDIFF_CPU_CACHE_MB")) limitMb = static_cast<size_t>(std::strtoull(mb, nullptr, 10));
  g_allocator = new CachingCpuAllocator(limitMb << 20);
  c10::SetCPUAllocator(g_allocator, /*priority=*/2);
}

Napi::Value CpuAllocatorStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const bool active = g_allocator != nullptr && c10::GetCPUAllocator() == g_allocator;
  out.Set("active", active);
  if (g_allocator != nullptr) {
    const auto s = g_allocator->stats();
    out.Set("cachedBytes", static_cast<double>(s.cachedBytes));
    out.Set("cachedBlocks", static_cast<double>(s.cachedBlocks));
    out.Set("liveBytes", static_cast<double>(s.liveBytes));
    out.Set("hits", static_cast<double>(s.hits));
    out.Set("misses", static_cast<double>(s.misses));
    out.Set("limitBytes", static_cast<double>(g_allocator->limit()));
  }
  return out;
}

Napi::Value CpuAllocatorEmptyCache(const Napi::CallbackInfo& info) {
  if (g_allocator != nullptr) g_allocator->emptyCache();
  return info.Env().Undefined();
}

}  // namespace moediff
