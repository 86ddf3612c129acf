#pragma once
#include <napi.h>

namespace moediff {
// Installs the caching CPU allocator as libtorch's CPU allocator (unless MOEDIFF_CPU_ALLOCATOR=system).
void InstallCpuAllocator();
// cpuAllocatorStats() -> {active, cachedBytes, cachedBlocks, liveBytes, hits, misses, limitBytes}
Napi::Value CpuAllocatorStats(const Napi::CallbackInfo& info);
// cpuAllocatorEmptyCache(): frees every cached block.
Napi::Value CpuAllocatorEmptyCache(const Napi::CallbackInfo& info);
}  // namespace moediff
