#!/usr/bin/env node
// Finds libtorch for binding.gyp. Prints compiler/linker fragments, one per line.
//
//   LIBTORCH=/opt/libtorch  -> an official distribution (include/, lib/, share/cmake/Torch)
//   unset                   -> the system install (Debian/Ubuntu libtorch-dev)
//
// Usage: node libtorch-config.mjs include|libs|defines|describe
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

function fail(msg) {
  process.stderr.write(`libtorch-config: ${msg}\n`);
  process.exit(1);
}

function locate() {
  const root = process.env.LIBTORCH;
  if (root) {
    const include = join(root, "include");
    const lib = join(root, "lib");
    if (!existsSync(join(include, "torch")) || !existsSync(join(lib, "libtorch.so"))) {
      fail(`LIBTORCH=${root} does not look like a libtorch distribution (expected include/torch and lib/libtorch.so)`);
    }
    return { root, include: [include, join(include, "torch/csrc/api/include")], lib };
  }
  const include = ["/usr/include", "/usr/local/include"].find((d) => existsSync(join(d, "torch/csrc/api/include")));
  const libCandidates = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];
  const lib = libCandidates.find((d) => existsSync(join(d, "libtorch.so")));
  if (!include || !lib) {
    fail("no libtorch found: install Debian/Ubuntu's libtorch-dev (scripts/setup.sh does) or set LIBTORCH to an unpacked libtorch distribution");
  }
  return { root: null, include: [include, join(include, "torch/csrc/api/include")], lib };
}

// Official distributions come in two C++ ABIs; their CMake config says which.
function abiDefine(root) {
  if (!root) return [];
  const cfg = join(root, "share/cmake/Torch/TorchConfig.cmake");
  if (!existsSync(cfg)) return [];
  const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(cfg, "utf8"));
  return m ? [`_GLIBCXX_USE_CXX11_ABI=${m[1]}`] : [];
}

const where = locate();
const hasCuda = readdirSync(where.lib).some((f) => f === "libtorch_cuda.so");
const what = process.argv[2];
switch (what) {
  case "include":
    console.log(where.include.join("\n"));
    break;
  case "libs": {
    const libs = [`-L${where.lib}`, `-Wl,-rpath,${where.lib}`, "-ltorch", "-ltorch_cpu", "-lc10"];
    // torch_cuda registers CUDA kernels in static initialisers; nothing references
    // it by symbol, so keep the linker from dropping it.
    if (hasCuda) libs.push("-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed");
    console.log(libs.join("\n"));
    break;
  }
  case "defines":
    console.log(abiDefine(where.root).join("\n"));
    break;
  case "describe":
    console.log(JSON.stringify({ ...where, cuda: hasCuda }));
    break;
  default:
    fail("usage: libtorch-config.mjs include|libs|defines|describe");
}
