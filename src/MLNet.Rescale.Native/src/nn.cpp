// Neural-network primitives and the fused optimizer/clipping kernels.
#include "rs.h"

#include <cmath>
#include <vector>

namespace {
at::Tensor opt(rs_tensor t) { return t ? *t : at::Tensor(); }
}  // namespace

RS_API rs_tensor rs_conv2d(rs_tensor x, rs_tensor w, rs_tensor b, const int64_t* stride, const int64_t* padding,
                           const int64_t* dilation, int64_t groups) {
  RS_TRY_TENSOR(at::conv2d(*x, *w, opt(b), rs::dims(stride, 2), rs::dims(padding, 2), rs::dims(dilation, 2), groups))
}

RS_API rs_tensor rs_conv_transpose2d(rs_tensor x, rs_tensor w, rs_tensor b, const int64_t* stride,
                                     const int64_t* padding, const int64_t* output_padding, int64_t groups,
                                     const int64_t* dilation) {
  RS_TRY_TENSOR(at::conv_transpose2d(*x, *w, opt(b), rs::dims(stride, 2), rs::dims(padding, 2),
                                     rs::dims(output_padding, 2), groups, rs::dims(dilation, 2)))
}

RS_API rs_tensor rs_avg_pool2d(rs_tensor x, const int64_t* kernel, const int64_t* stride, const int64_t* padding) {
  RS_TRY_TENSOR(at::avg_pool2d(*x, rs::dims(kernel, 2), rs::dims(stride, 2), rs::dims(padding, 2)))
}

// mode: 0 nearest, 1 bilinear
RS_API rs_tensor rs_interpolate(rs_tensor x, int64_t out_h, int64_t out_w, int mode, int align_corners) {
  RS_TRY_TENSOR(([&] {
    std::vector<int64_t> size{out_h, out_w};
    if (mode == 0) return at::upsample_nearest2d(*x, size);
    if (mode == 1) return at::upsample_bilinear2d(*x, size, align_corners != 0);
    throw std::invalid_argument("unknown interpolation mode " + std::to_string(mode));
  })())
}

RS_API rs_tensor rs_pixel_shuffle(rs_tensor x, int64_t factor, int inverse) {
  RS_TRY_TENSOR(inverse ? at::pixel_unshuffle(*x, factor) : at::pixel_shuffle(*x, factor))
}

// pads = {left, right, top, bottom}; mode: 0 constant, 1 reflect, 2 replicate
RS_API rs_tensor rs_pad2d(rs_tensor x, const int64_t* pads, int mode, double value) {
  RS_TRY_TENSOR(([&] {
    auto p = rs::dims(pads, 4);
    if (mode == 0) return at::constant_pad_nd(*x, p, value);
    if (mode == 1) return at::reflection_pad2d(*x, p);
    if (mode == 2) return at::replication_pad2d(*x, p);
    throw std::invalid_argument("unknown padding mode " + std::to_string(mode));
  })())
}

// One Adam step on one parameter, the arithmetic of torch.optim.Adam (single-tensor path,
// no amsgrad), so that results match PyTorch to the last rounding of each operation.
RS_API int rs_adam_step(rs_tensor param, rs_tensor exp_avg, rs_tensor exp_avg_sq, int64_t step, double lr,
                        double beta1, double beta2, double eps, double weight_decay) {
  RS_TRY_STATUS({
    at::NoGradGuard no_grad;
    auto grad = param->grad();
    if (!grad.defined()) return 0;
    if (weight_decay != 0) grad = grad.add(*param, weight_decay);
    exp_avg->mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq->mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    double bias1 = 1 - std::pow(beta1, static_cast<double>(step));
    double bias2 = 1 - std::pow(beta2, static_cast<double>(step));
    auto denom = (exp_avg_sq->sqrt() / std::sqrt(bias2)).add_(eps);
    param->addcdiv_(*exp_avg, denom, -lr / bias1);
  })
}

// Scales the gradients of all parameters so that their joint L2 norm is at most
// max_norm (torch.nn.utils.clip_grad_norm_); writes the norm before clipping.
RS_API int rs_clip_grad_norm(rs_tensor* params, int n, double max_norm, double* total_norm) {
  RS_TRY_STATUS({
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> norms;
    std::vector<at::Tensor> grads;
    for (int i = 0; i < n; ++i) {
      auto g = params[i]->grad();
      if (!g.defined()) continue;
      grads.push_back(g);
      norms.push_back(at::norm(g, 2));
    }
    if (grads.empty()) {
      *total_norm = 0;
      return 0;
    }
    auto total = at::norm(at::stack(norms), 2);
    auto coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (auto& g : grads) g.mul_(coef);
    *total_norm = total.item<double>();
  })
}
