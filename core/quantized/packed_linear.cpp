#include "core/quantized/packed_linear.h"

#include "core/error.h"
#include "kernels/packed_matmul.h"

namespace sq {
namespace {

// Rows dequantized at a time for many-token products on a CUDA device: a few MB of fp32, never the whole weight.
constexpr int64_t kSliceElements = int64_t(1) << 20;

}  // namespace

torch::Tensor many_token_product(const torch::Tensor& x_in, int64_t rows, int64_t cols, const kernels::WeightRows& fill) {
  const torch::Tensor x = x_in.to(torch::kFloat32).contiguous();
  torch::Tensor y = torch::empty({x.size(0), rows}, x.options());
  if (x.is_cpu()) {
    kernels::panel_gemm(x.data_ptr<float>(), y.data_ptr<float>(), x.size(0), rows, cols, fill);
    return y;
  }
  thread_local torch::Tensor scratch;
  const int64_t slice = std::min(rows, std::max<int64_t>(1, kSliceElements / cols));
  if (!scratch.defined() || scratch.device() != x.device() || scratch.numel() < slice * cols)
    scratch = torch::empty({slice * cols}, x.options());
  for (int64_t r0 = 0; r0 < rows; r0 += slice) {
    const int64_t m = std::min(slice, rows - r0);
    fill(r0, m, scratch.data_ptr<float>());
    y.narrow(1, r0, m).copy_(torch::matmul(x, scratch.narrow(0, 0, m * cols).view({m, cols}).t()));
  }
  return y;
}

std::shared_ptr<const PackedLinear> PackedLinear::pack(const QuantizedWeight& q, const QuantScheme& scheme, torch::Device device,
                                                       const std::string& name) {
  const torch::Tensor codes = q.codes.to(torch::kCPU, torch::kInt32).contiguous();  // host: packed on the host, then moved
  const int64_t rows = codes.size(0), cols = codes.size(1);
  torch::Tensor scales = q.scales.to(torch::kCPU, torch::kFloat32).contiguous();  // host: as above
  torch::Tensor zeros = q.zeros.to(torch::kCPU, torch::kFloat32).contiguous();    // host: as above
  int64_t group = cols / scales.size(1);
  if (scales.size(0) == 1 && rows > 1) {  // per tensor: one group per row, each with the tensor's scale
    scales = scales.expand({rows, 1}).contiguous();
    zeros = zeros.expand({rows, 1}).contiguous();
    group = cols;
  }
  if (scales.size(0) != rows || cols % scales.size(1) != 0 || zeros.sizes() != scales.sizes())
    throw Error("'" + name + "': scales and zero points do not fit the codes");
  kernels::PackedHost host;
  try {
    if (!kernels::pack_weights(codes.data_ptr<int32_t>(), scales.data_ptr<float>(), zeros.data_ptr<float>(), rows, cols, group,
                               scheme.w_bits, scheme.w_kind, host))
      return nullptr;
  } catch (const kernels::KernelError& e) {
    throw Error("'" + name + "': " + e.what());
  }
  auto p = std::make_shared<PackedLinear>();
  const auto on = torch::TensorOptions().device(device);
  p->codes_ = torch::from_blob(host.codes.data(), {int64_t(host.codes.size())}, torch::kUInt8).to(on, /*non_blocking=*/false, /*copy=*/true);
  p->scales_ = torch::from_blob(host.scales.data(), {int64_t(host.scales.size())}, torch::kFloat32).to(on, false, true);
  p->zeros_ = torch::from_blob(host.zeros.data(), {int64_t(host.zeros.size())}, torch::kFloat32).to(on, false, true);
  p->view_ = {rows, cols, group, host.bits, p->codes_.data_ptr<uint8_t>(), p->scales_.data_ptr<float>(), p->zeros_.data_ptr<float>()};
  return p;
}

torch::Tensor PackedLinear::forward(const torch::Tensor& x, int act_bits) const {
  const torch::Tensor flat = x.detach().to(torch::kFloat32).contiguous().view({-1, view_.cols});
  const int64_t n = flat.size(0);
  const kernels::Device device = kernel_device(flat);
  torch::Tensor y;
  if (n >= kManyTokens) {
    y = many_token_product(fake_quant_activations(flat, act_bits), view_.rows, view_.cols,
                          [&](int64_t r0, int64_t m, float* out) { kernels::packed_dequantize(device, view_, r0, m, out); });
  } else if (act_bits <= 8) {
    y = torch::empty({n, view_.rows}, flat.options());
    kernels::packed_matmul_int(device, view_, flat.data_ptr<float>(), y.data_ptr<float>(), n, act_bits);
  } else {
    y = torch::empty({n, view_.rows}, flat.options());
    const torch::Tensor in = fake_quant_activations(flat, act_bits);  // 9..15 bits: quantized, still floats
    kernels::packed_matmul(device, view_, in.data_ptr<float>(), y.data_ptr<float>(), n);
  }
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = view_.rows;
  return y.view(shape);
}

}  // namespace sq
