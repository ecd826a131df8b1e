// Memory layout: converting tensors to channels-last (NHWC) and concatenating channels-last
// tensors along their channels.
//
// oneDNN runs a 3×3 convolution on an NHWC tensor directly, while on NCHW it first reorders the input
// to a blocked layout and the output back, which costs as much as the arithmetic at the dense blocks'
// sizes. A dense block also concatenates its growing features before every convolution, and libtorch
// 1.13's cat along the channels of NHWC tensors takes a slow generic path; the kernel below copies each
// pixel's channel runs with memcpy instead, which is as fast as cat of NCHW tensors.
#include "rs.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstring>
#include <vector>

namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool channels_last(const at::Tensor& t) { return t.dim() == 4 && t.is_contiguous(at::MemoryFormat::ChannelsLast); }

// The fast path applies when every input is a dense NHWC tensor of the same batch, height, width,
// dtype and device (CPU), and at least one of them really is NHWC (not merely contiguous in both
// layouts, as a tensor with one channel or one pixel is).
bool fast_channel_cat(const std::vector<at::Tensor>& ts, int64_t dim) {
  if (ts.size() < 2) return false;
  const auto& a = ts[0];
  if (a.dim() != 4 || (dim != 1 && dim != -3) || !a.device().is_cpu()) return false;
  bool any_nhwc_only = false;
  for (const auto& t : ts) {
    if (!channels_last(t) || t.scalar_type() != a.scalar_type() || !t.device().is_cpu()) return false;
    if (t.size(0) != a.size(0) || t.size(2) != a.size(2) || t.size(3) != a.size(3)) return false;
    if (!t.is_contiguous()) any_nhwc_only = true;
  }
  return any_nhwc_only;
}

at::Tensor channel_cat_kernel(at::TensorList ts) {
  const auto& a = ts[0];
  const int64_t n = a.size(0), h = a.size(2), w = a.size(3);
  int64_t channels = 0;
  for (const auto& t : ts) channels += t.size(1);
  auto out = at::empty({n, channels, h, w}, a.options().memory_format(at::MemoryFormat::ChannelsLast));
  const auto element = static_cast<int64_t>(a.element_size());
  std::vector<const char*> sources;
  std::vector<int64_t> run_bytes;
  for (const auto& t : ts) {
    sources.push_back(static_cast<const char*>(t.data_ptr()));
    run_bytes.push_back(t.size(1) * element);
  }
  char* destination = static_cast<char*>(out.data_ptr());
  const int64_t pixel_bytes = channels * element;
  // Each output pixel is written once, front to back, from the inputs' runs for that pixel.
  at::parallel_for(0, n * h * w, 512, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      char* o = destination + p * pixel_bytes;
      for (size_t i = 0; i < sources.size(); ++i) {
        std::memcpy(o, sources[i] + p * run_bytes[i], static_cast<size_t>(run_bytes[i]));
        o += run_bytes[i];
      }
    }
  });
  return out;
}

// Autograd for the kernel: the gradient of each input is its channel range of the output's gradient.
struct ChannelCat : public torch::autograd::Function<ChannelCat> {
  static at::Tensor forward(AutogradContext* ctx, at::TensorList inputs) {
    std::vector<int64_t> sizes;
    for (const auto& t : inputs) sizes.push_back(t.size(1));
    ctx->saved_data["sizes"] = sizes;
    return channel_cat_kernel(inputs);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto sizes = ctx->saved_data["sizes"].toIntVector();
    variable_list result;
    int64_t offset = 0;
    for (auto size : sizes) {
      result.push_back(grads[0].narrow(1, offset, size));
      offset += size;
    }
    return result;
  }
};
}  // namespace

namespace rs {
at::Tensor cat(const std::vector<at::Tensor>& ts, int64_t dim) {
  if (!fast_channel_cat(ts, dim)) return at::cat(ts, dim);
  bool needs_grad = false;
  if (at::GradMode::is_enabled())
    for (const auto& t : ts) needs_grad = needs_grad || t.requires_grad();
  return needs_grad ? ChannelCat::apply(at::TensorList(ts)) : channel_cat_kernel(ts);
}
}  // namespace rs

// format: 0 contiguous (NCHW), 1 channels-last (NHWC, 4-D tensors only).
RS_API rs_tensor rs_to_memory_format(rs_tensor x, int format) {
  RS_TRY_TENSOR(([&] {
    if (format == 0) return x->contiguous();
    if (format == 1) return x->contiguous(at::MemoryFormat::ChannelsLast);
    throw std::invalid_argument("unknown memory format " + std::to_string(format));
  })())
}

RS_API int rs_is_contiguous(rs_tensor x, int format) {
  if (format == 1) return x->dim() == 4 && x->is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;
  return x->is_contiguous() ? 1 : 0;
}
