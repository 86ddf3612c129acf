{
  "targets": [
    {
      "target_name": "moediff_native",
      "sources": [
        "src/addon.cc",
        "src/autograd.cc",
        "src/bench_cpp.cc",
        "src/cpu_allocator.cc",
        "src/dispatch.cc",
        "src/handles.cc",
        "src/runtime.cc",
        "src/tensor.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node libtorch-config.mjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node libtorch-config.mjs defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node libtorch-config.mjs libs)"]
    }
  ]
}
