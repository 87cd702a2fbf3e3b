#pragma once
// 2D views of activations. PCA and the probe plane are linear bases fitted once, on the
// full-precision (reference) activations, then applied unchanged to any other activations of the
// same layer, so before/after plots share axes. t-SNE has no basis: the quantized model's map is
// started from the reference map's coordinates so that points stay where they were unless moved.
// Torch-facing.
#include <torch/torch.h>

#include <string>

namespace sq {

struct Basis2D {
  torch::Tensor mean;  // [D]
  torch::Tensor axes;  // [2, D], orthonormal rows
  std::string method;  // "pca" or "probe-plane"
  std::string note;    // set when the basis had to fall back
};

// Exact PCA (eigendecomposition of the smaller of covariance and Gram matrix).
Basis2D pca_basis(const torch::Tensor& X);
// x = the normalized probe direction w, y = the first principal direction orthogonal to it.
Basis2D probe_plane_basis(const torch::Tensor& X, const torch::Tensor& w);
torch::Tensor project_2d(const torch::Tensor& X, const Basis2D& basis);  // [N, 2]

struct TsneOptions {
  double perplexity = 30;
  int iterations = 1000;
  uint64_t seed = 0;
};
// Exact t-SNE (van der Maaten 2008, with scikit-learn's defaults: early exaggeration 12 for 250
// iterations, learning rate max(N / 48, 50), momentum 0.5 then 0.8, gains). `init` [N, 2] may be
// undefined: then the PCA coordinates scaled to std 1e-4 start it.
torch::Tensor tsne(const torch::Tensor& X, const TsneOptions& options, const torch::Tensor& init = {});

}  // namespace sq
