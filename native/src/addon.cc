// Module registration. The JavaScript side (src/torch/native.ts) is the only
// place that loads this addon.
#include <napi.h>

#include "autograd.h"
#include "dispatch.h"
#include "runtime.h"
#include "tensor.h"

namespace moediff {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"resolveOp", ResolveOp},
      {"hasOp", HasOp},
      {"opSchema", OpSchema},
      {"call", Call},
      {"callInPlace", CallInPlace},
      {"fromBytes", FromBytes},
      {"toBytes", ToBytes},
      {"free", Free},
      {"shape", Shape},
      {"strides", Strides},
      {"scalarType", ScalarTypeOf},
      {"device", DeviceOf},
      {"isContiguous", IsContiguous},
      {"memory", Memory},
      {"backward", Backward},
      {"grad", Grad},
      {"getGrad", GetGrad},
      {"setGrad", SetGrad},
      {"requiresGrad", RequiresGrad},
      {"setRequiresGrad", SetRequiresGrad},
      {"isLeaf", IsLeaf},
      {"retainGrad", RetainGrad},
      {"gradEnabled", GradEnabled},
      {"setGradEnabled", SetGradEnabled},
      {"setNumThreads", SetNumThreads},
      {"getNumThreads", GetNumThreads},
      {"cudaIsAvailable", CudaIsAvailable},
      {"cudaDeviceCount", CudaDeviceCount},
      {"manualSeed", ManualSeed},
      {"generatorNew", GeneratorNew},
      {"generatorFree", GeneratorFree},
      {"generatorSeed", GeneratorSeed},
      {"generatorGetState", GeneratorGetState},
      {"generatorSetState", GeneratorSetState},
      {"versions", Versions},
      {"benchConvStepCpp", BenchConvStepCpp},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

NODE_API_MODULE(moediff_native, Init)

}  // namespace moediff
