// What the engine runs on underneath: libtorch's CPU allocator (the addon's caching allocator,
// native/src/cpu_allocator.cc) and the BLAS library libtorch's matrix products go through.
import { readFileSync, realpathSync } from "node:fs";
import { native, type CpuAllocatorStats } from "./native.js";

export type { CpuAllocatorStats };

/** The caching CPU allocator's counters: blocks reused (hits), fresh (misses), bytes held for reuse. */
export function cpuAllocatorStats(): CpuAllocatorStats {
  return native.cpuAllocatorStats();
}

/** Gives every block the caching CPU allocator holds back to the system. */
export function emptyCpuCache(): void {
  native.cpuAllocatorEmptyCache();
}

/**
 * The BLAS library loaded into this process (the real file behind libblas.so.3, or an OpenBLAS/MKL
 * library), from /proc/self/maps; null where that cannot be read (not Linux) or none is loaded.
 */
export function blasLibrary(): string | null {
  let maps: string;
  try {
    maps = readFileSync("/proc/self/maps", "utf8");
  } catch {
    return null;
  }
  const paths = new Set(maps.split("\n").map((l) => l.slice(l.indexOf("/"))).filter((p) => p.startsWith("/") && /\/lib(open)?blas[^/]*\.so|\/libmkl_rt[^/]*\.so/.test(p)));
  const found = [...paths].map((p) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  });
  return found.find((p) => /openblas|mkl/i.test(p)) ?? found[0] ?? null;
}
