// Every native entry point runs its body through guard(): libtorch's c10::Error
// (and any std::exception) becomes a JavaScript Error that names the operation,
// with the message but without the C++ backtrace. Nothing reaches std::terminate.
#pragma once

#include <c10/util/Exception.h>
#include <napi.h>

#include <string>
#include <utility>

namespace moediff {

inline std::string trimMessage(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

template <typename Fn>
auto guard(Napi::Env env, const std::string& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, what + ": " + trimMessage(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, what + ": " + trimMessage(e.what()));
  }
}

}  // namespace moediff
