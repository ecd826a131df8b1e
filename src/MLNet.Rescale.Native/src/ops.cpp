// Elementwise, reduction and shape operations. Families of ops share one entry
// point keyed by a code (mirrored by managed enums) so that the ABI stays small.
#include "rs.h"

#include <vector>

namespace {
// MLNet.Rescale.Torch.Native.Unary
at::Tensor unary(const at::Tensor& x, int op) {
  switch (op) {
    case 0: return at::neg(x);
    case 1: return at::exp(x);
    case 2: return at::log(x);
    case 3: return at::sigmoid(x);
    case 4: return at::tanh(x);
    case 5: return at::sqrt(x);
    case 6: return at::abs(x);
    case 7: return at::sin(x);
    case 8: return at::cos(x);
    case 9: return at::round(x);
    case 10: return at::relu(x);
    case 11: return at::floor(x);
    case 12: return at::sign(x);
    case 13: return at::square(x);
    case 14: return at::isfinite(x);
    case 15: return at::rsqrt(x);
  }
  throw std::invalid_argument("unknown unary op " + std::to_string(op));
}

// MLNet.Rescale.Torch.Native.Binary
at::Tensor binary(const at::Tensor& a, const at::Tensor& b, int op) {
  switch (op) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return at::maximum(a, b);
    case 6: return at::minimum(a, b);
    case 7: return at::eq(a, b);
    case 8: return at::gt(a, b);
    case 9: return at::lt(a, b);
  }
  throw std::invalid_argument("unknown binary op " + std::to_string(op));
}

at::Tensor binary_scalar(const at::Tensor& a, double s, int op) {
  switch (op) {
    case 0: return at::add(a, s);
    case 1: return at::sub(a, s);
    case 2: return at::mul(a, s);
    case 3: return at::div(a, s);
    case 4: return at::pow(a, s);
    case 5: return at::clamp_min(a, s);
    case 6: return at::clamp_max(a, s);
    case 7: return at::eq(a, s);
    case 8: return at::gt(a, s);
    case 9: return at::lt(a, s);
    case 10: return at::rsub(a, s);  // s - a
  }
  throw std::invalid_argument("unknown scalar op " + std::to_string(op));
}

std::vector<at::Tensor> gather(rs_tensor* ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; ++i) v.push_back(*ts[i]);
  return v;
}
}  // namespace

RS_API rs_tensor rs_unary(rs_tensor x, int op) { RS_TRY_TENSOR(unary(*x, op)) }
RS_API rs_tensor rs_binary(rs_tensor a, rs_tensor b, int op) { RS_TRY_TENSOR(binary(*a, *b, op)) }
RS_API rs_tensor rs_binary_scalar(rs_tensor a, double s, int op) { RS_TRY_TENSOR(binary_scalar(*a, s, op)) }

// In place, used by optimizers and initializers (they run under no_grad).
RS_API int rs_binary_(rs_tensor a, rs_tensor b, int op, double alpha) {
  RS_TRY_STATUS(switch (op) {
    case 0: a->add_(*b, alpha); break;
    case 2: a->mul_(*b); break;
    case 11: a->copy_(*b); break;
    default: throw std::invalid_argument("unsupported in-place op " + std::to_string(op));
  })
}
RS_API int rs_binary_scalar_(rs_tensor a, double s, int op) {
  RS_TRY_STATUS(switch (op) {
    case 0: a->add_(s); break;
    case 2: a->mul_(s); break;
    case 12: a->fill_(s); break;
    default: throw std::invalid_argument("unsupported in-place scalar op " + std::to_string(op));
  })
}

RS_API rs_tensor rs_clamp(rs_tensor x, double lo, double hi, int has_lo, int has_hi) {
  RS_TRY_TENSOR(at::clamp(*x, has_lo ? c10::optional<at::Scalar>(lo) : c10::nullopt,
                          has_hi ? c10::optional<at::Scalar>(hi) : c10::nullopt))
}
RS_API rs_tensor rs_leaky_relu(rs_tensor x, double slope) { RS_TRY_TENSOR(at::leaky_relu(*x, slope)) }
RS_API rs_tensor rs_where(rs_tensor cond, rs_tensor a, rs_tensor b) { RS_TRY_TENSOR(at::where(*cond, *a, *b)) }

// op: 0 sum, 1 mean, 2 max, 3 min; ndims == 0 reduces everything.
RS_API rs_tensor rs_reduce(rs_tensor x, int op, const int64_t* d, int ndims, int keepdim) {
  RS_TRY_TENSOR(([&]() -> at::Tensor {
    bool all = ndims == 0;
    switch (op) {
      case 0: return all ? at::sum(*x) : at::sum(*x, rs::dims(d, ndims), keepdim != 0);
      case 1: return all ? at::mean(*x) : at::mean(*x, rs::dims(d, ndims), keepdim != 0);
      case 2: return all ? at::max(*x) : at::amax(*x, rs::dims(d, ndims), keepdim != 0);
      case 3: return all ? at::min(*x) : at::amin(*x, rs::dims(d, ndims), keepdim != 0);
    }
    throw std::invalid_argument("unknown reduction " + std::to_string(op));
  })())
}
RS_API rs_tensor rs_argmax(rs_tensor x, int64_t dim, int keepdim) { RS_TRY_TENSOR(at::argmax(*x, dim, keepdim != 0)) }
RS_API rs_tensor rs_one_hot(rs_tensor idx, int64_t classes) { RS_TRY_TENSOR(at::one_hot(*idx, classes)) }
RS_API rs_tensor rs_softmax(rs_tensor x, int64_t dim, int log) {
  RS_TRY_TENSOR(log ? at::log_softmax(*x, dim) : at::softmax(*x, dim))
}
RS_API rs_tensor rs_norm(rs_tensor x, double p) { RS_TRY_TENSOR(at::norm(*x, p)) }

// ---- shape ---------------------------------------------------------------------

RS_API rs_tensor rs_reshape(rs_tensor x, const int64_t* shape, int n) { RS_TRY_TENSOR(x->reshape(rs::dims(shape, n))) }
RS_API rs_tensor rs_view(rs_tensor x, const int64_t* shape, int n) { RS_TRY_TENSOR(x->view(rs::dims(shape, n))) }
RS_API rs_tensor rs_expand(rs_tensor x, const int64_t* shape, int n) { RS_TRY_TENSOR(x->expand(rs::dims(shape, n))) }
RS_API rs_tensor rs_permute(rs_tensor x, const int64_t* order, int n) { RS_TRY_TENSOR(x->permute(rs::dims(order, n))) }
RS_API rs_tensor rs_transpose(rs_tensor x, int64_t a, int64_t b) { RS_TRY_TENSOR(x->transpose(a, b)) }
RS_API rs_tensor rs_contiguous(rs_tensor x) { RS_TRY_TENSOR(x->contiguous()) }
RS_API rs_tensor rs_slice(rs_tensor x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  RS_TRY_TENSOR(x->slice(dim, start, end, step))
}
RS_API rs_tensor rs_narrow(rs_tensor x, int64_t dim, int64_t start, int64_t length) {
  RS_TRY_TENSOR(x->narrow(dim, start, length))
}
RS_API rs_tensor rs_flip(rs_tensor x, const int64_t* d, int n) { RS_TRY_TENSOR(x->flip(rs::dims(d, n))) }
RS_API rs_tensor rs_rot90(rs_tensor x, int64_t k, int64_t d0, int64_t d1) { RS_TRY_TENSOR(x->rot90(k, {d0, d1})) }
RS_API rs_tensor rs_cat(rs_tensor* ts, int n, int64_t dim) { RS_TRY_TENSOR(rs::cat(gather(ts, n), dim)) }
RS_API rs_tensor rs_stack(rs_tensor* ts, int n, int64_t dim) { RS_TRY_TENSOR(at::stack(gather(ts, n), dim)) }
RS_API rs_tensor rs_matmul(rs_tensor a, rs_tensor b) { RS_TRY_TENSOR(at::matmul(*a, *b)) }
RS_API rs_tensor rs_tensordot(rs_tensor a, rs_tensor b, const int64_t* da, const int64_t* db, int n) {
  RS_TRY_TENSOR(at::tensordot(*a, *b, rs::dims(da, n), rs::dims(db, n)))
}
