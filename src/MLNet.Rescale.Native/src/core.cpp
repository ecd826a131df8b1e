// Handles, creation, data transfer, autograd switches, generators and threads.
#include "rs.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <malloc.h>
#include <atomic>
#include <cstring>

namespace {
thread_local std::string last_error;
std::atomic<int64_t> live_handles{0};
}  // namespace

namespace rs {
void set_error(const char* message) { last_error = message ? message : "unknown native error"; }
void clear_error() { last_error.clear(); }

rs_tensor wrap(at::Tensor t) {
  live_handles.fetch_add(1, std::memory_order_relaxed);
  return new at::Tensor(std::move(t));
}

// The managed enum MLNet.Rescale.Torch.DType mirrors these codes.
at::ScalarType to_scalar_type(int dtype) {
  switch (dtype) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kHalf;
    case 3: return at::kBFloat16;
    case 4: return at::kByte;
    case 5: return at::kLong;
    case 6: return at::kInt;
    case 7: return at::kBool;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
}

int from_scalar_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kHalf: return 2;
    case at::kBFloat16: return 3;
    case at::kByte: return 4;
    case at::kLong: return 5;
    case at::kInt: return 6;
    case at::kBool: return 7;
    default: return -1;
  }
}

at::IntArrayRef dims(const int64_t* p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }
}  // namespace rs

namespace {
at::TensorOptions options(int dtype, int device) {
  auto o = at::TensorOptions().dtype(rs::to_scalar_type(dtype));
  return device == 1 ? o.device(at::kCUDA) : o.device(at::kCPU);
}
at::Generator* as_gen(void* g) { return static_cast<at::Generator*>(g); }
c10::optional<at::Generator> opt_gen(void* g) {
  if (!g) return c10::nullopt;
  return *as_gen(g);
}
}  // namespace

RS_API const char* rs_last_error() { return last_error.c_str(); }
RS_API int64_t rs_live_handles() { return live_handles.load(); }

RS_API void rs_free(rs_tensor t) {
  if (!t) return;
  delete t;
  live_handles.fetch_sub(1, std::memory_order_relaxed);
}

// ---- creation and transfer -------------------------------------------------

RS_API rs_tensor rs_from_data(const void* data, const int64_t* shape, int ndim, int dtype, int device) {
  RS_TRY_TENSOR(([&] {
    auto t = at::empty(rs::dims(shape, ndim), options(dtype, 0));
    if (t.nbytes() > 0) std::memcpy(t.data_ptr(), data, t.nbytes());
    return device == 0 ? t : t.to(options(dtype, device).device());
  })())
}

RS_API int rs_copy_to(rs_tensor t, void* dst, int64_t nbytes) {
  RS_TRY_STATUS({
    auto c = t->detach().to(at::kCPU).contiguous();
    if (static_cast<int64_t>(c.nbytes()) != nbytes)
      throw std::invalid_argument("destination holds " + std::to_string(nbytes) + " bytes, tensor has " +
                                  std::to_string(c.nbytes()));
    if (nbytes > 0) std::memcpy(dst, c.data_ptr(), nbytes);
  })
}

RS_API rs_tensor rs_full(const int64_t* shape, int ndim, double value, int dtype, int device) {
  RS_TRY_TENSOR(at::full(rs::dims(shape, ndim), value, options(dtype, device)))
}

RS_API rs_tensor rs_empty(const int64_t* shape, int ndim, int dtype, int device) {
  RS_TRY_TENSOR(at::empty(rs::dims(shape, ndim), options(dtype, device)))
}

RS_API rs_tensor rs_arange(double start, double end, double step, int dtype, int device) {
  RS_TRY_TENSOR(at::arange(start, end, step, options(dtype, device)))
}

// kind: 0 = standard normal, 1 = uniform [0,1), 2 = uniform [low, high)
RS_API rs_tensor rs_random(int kind, const int64_t* shape, int ndim, double low, double high, void* gen, int dtype,
                           int device) {
  RS_TRY_TENSOR(([&] {
    auto o = options(dtype, device);
    switch (kind) {
      case 0: return at::randn(rs::dims(shape, ndim), opt_gen(gen), o);
      case 1: return at::rand(rs::dims(shape, ndim), opt_gen(gen), o);
      case 2: return at::empty(rs::dims(shape, ndim), o).uniform_(low, high, opt_gen(gen));
    }
    throw std::invalid_argument("unknown random kind");
  })())
}

// ---- metadata --------------------------------------------------------------

RS_API int rs_ndim(rs_tensor t) { return static_cast<int>(t->dim()); }
RS_API int rs_shape(rs_tensor t, int64_t* out, int capacity) {
  auto s = t->sizes();
  for (size_t i = 0; i < s.size() && static_cast<int>(i) < capacity; ++i) out[i] = s[i];
  return static_cast<int>(s.size());
}
RS_API int rs_dtype(rs_tensor t) { return rs::from_scalar_type(t->scalar_type()); }
RS_API int rs_device(rs_tensor t) { return t->is_cuda() ? 1 : 0; }
RS_API int64_t rs_numel(rs_tensor t) { return t->numel(); }

RS_API int rs_item(rs_tensor t, double* out) {
  RS_TRY_STATUS(*out = t->item<double>())
}

RS_API rs_tensor rs_to(rs_tensor t, int dtype, int device) {
  RS_TRY_TENSOR(t->to(options(dtype < 0 ? rs::from_scalar_type(t->scalar_type()) : dtype, device)))
}
RS_API rs_tensor rs_clone(rs_tensor t) { RS_TRY_TENSOR(t->clone()) }
RS_API rs_tensor rs_alias(rs_tensor t) { RS_TRY_TENSOR(*t) }

// ---- autograd --------------------------------------------------------------

RS_API int rs_requires_grad(rs_tensor t) { return t->requires_grad() ? 1 : 0; }
RS_API int rs_set_requires_grad(rs_tensor t, int on) { RS_TRY_STATUS(t->requires_grad_(on != 0)) }
RS_API int rs_is_leaf(rs_tensor t) { return t->is_leaf() ? 1 : 0; }

RS_API int rs_backward(rs_tensor t, rs_tensor grad, int retain_graph) {
  RS_TRY_STATUS(t->backward(grad ? *grad : at::Tensor(), retain_graph ? c10::optional<bool>(true) : c10::nullopt))
}

// Returns nullptr with an empty error when the tensor has no gradient yet.
RS_API rs_tensor rs_grad(rs_tensor t) {
  try {
    rs::clear_error();
    auto g = t->grad();
    return g.defined() ? rs::wrap(g) : nullptr;
  }
  RS_CATCH
  return nullptr;
}

RS_API int rs_zero_grad(rs_tensor t) {
  RS_TRY_STATUS(t->mutable_grad() = at::Tensor())
}

RS_API rs_tensor rs_detach(rs_tensor t) { RS_TRY_TENSOR(t->detach()) }

RS_API int rs_grad_enabled() { return at::GradMode::is_enabled() ? 1 : 0; }
RS_API void rs_set_grad_enabled(int on) { at::GradMode::set_enabled(on != 0); }

// InferenceMode is an RAII guard; the managed scope keeps it alive on the same thread.
RS_API void* rs_inference_mode_enter() {
  try {
    rs::clear_error();
    return new c10::InferenceMode(true);
  }
  RS_CATCH
  return nullptr;
}
RS_API void rs_inference_mode_exit(void* guard) { delete static_cast<c10::InferenceMode*>(guard); }

// ---- generators and threads -------------------------------------------------

RS_API void* rs_generator_new(uint64_t seed) {
  try {
    rs::clear_error();
    return new at::Generator(at::make_generator<at::CPUGeneratorImpl>(seed));
  }
  RS_CATCH
  return nullptr;
}
RS_API void rs_generator_free(void* g) { delete as_gen(g); }

// The generator's full state as bytes, so that a resumed run draws the same numbers.
RS_API rs_tensor rs_generator_get_state(void* g) { RS_TRY_TENSOR(as_gen(g)->get_state()) }
RS_API int rs_generator_set_state(void* g, rs_tensor state) { RS_TRY_STATUS(as_gen(g)->set_state(*state)) }

// libtorch allocates every tensor with malloc, and glibc serves blocks above its mmap threshold (at most
// 32 MiB) with a fresh mmap that is unmapped on free: every large activation then costs page faults and
// kernel zeroing, measured as half of the wall time of an IRN forward pass. Keeping freed memory in the
// heap lets the next activation of the same size reuse it. The price is that freed memory is not returned
// to the system until exit, so a process keeps its peak resident size (bounded for us by tiling).
RS_API void rs_keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

RS_API void rs_manual_seed(uint64_t seed) { at::manual_seed(seed); }
RS_API void rs_set_num_threads(int n) { at::set_num_threads(n); }
RS_API int rs_get_num_threads() { return at::get_num_threads(); }
RS_API int rs_cuda_available() { return at::hasCUDA() ? 1 : 0; }
