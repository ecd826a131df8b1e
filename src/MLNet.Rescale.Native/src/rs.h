// Shared plumbing of the C ABI: handle ownership, the last-error channel and the
// guard macros that turn every C++ exception into an error code plus message.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <string>
#include <vector>

#define RS_API extern "C" __attribute__((visibility("default")))

using rs_tensor = at::Tensor*;

namespace rs {
void set_error(const char* message);
void clear_error();
// Every handle handed to C# is a heap-allocated at::Tensor; the count lets the
// managed side (and the soak tests) check that nothing leaks.
rs_tensor wrap(at::Tensor t);
at::ScalarType to_scalar_type(int dtype);
int from_scalar_type(at::ScalarType t);
at::IntArrayRef dims(const int64_t* p, int n);
// at::cat, with a fast path for channels-last tensors joined along their channels (layout.cpp).
at::Tensor cat(const std::vector<at::Tensor>& ts, int64_t dim);
}  // namespace rs

// Every entry point catches C++ exceptions: libtorch's message goes to the last-error channel.
#define RS_CATCH                                                \
  catch (const c10::Error& e) {                                 \
    rs::set_error(e.what_without_backtrace());                  \
  }                                                             \
  catch (const std::exception& e) {                             \
    rs::set_error(e.what());                                    \
  }                                                             \
  catch (...) {                                                 \
    rs::set_error("unknown native error");                      \
  }

// Functions returning a tensor: nullptr on error (message in rs_last_error).
#define RS_TRY_TENSOR(expr)                                     \
  try {                                                         \
    rs::clear_error();                                          \
    return rs::wrap(expr);                                      \
  }                                                             \
  RS_CATCH                                                      \
  return nullptr;

// Functions returning a status: 0 on success, -1 on error.
#define RS_TRY_STATUS(body)                                     \
  try {                                                         \
    rs::clear_error();                                          \
    body;                                                       \
    return 0;                                                   \
  }                                                             \
  RS_CATCH                                                      \
  return -1;
