#pragma once
// QuaRot-style rotation of the residual stream, folded into the weights: with every RMSNorm's
// scale folded into the linear layers that read it, RMSNorm commutes with an orthogonal Q, so
// x -> xQ leaves the model's function unchanged while spreading activation outliers over all
// channels (what makes 4-bit activations workable). Readers of the stream (q/k/v, gate/up,
// lm_head) become W Q, writers (o_proj, down_proj, embeddings) Qᵀ W. Torch-facing.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "core/model/config.h"
#include "core/run/torch_device.h"

namespace sq {

// A seeded random orthogonal [n, n]: a randomized Hadamard matrix H diag(±1) / sqrt(n) when n is
// a power of two, else the Q factor of a seeded Gaussian matrix.
torch::Tensor random_orthogonal(int64_t n, uint64_t seed);

using FetchFn = std::function<torch::Tensor(const std::string& name)>;  // fp32 parameter by HF name

// Layer i's parameters (fp32, by HF name) with its norms folded (now ones) and the stream rotated.
std::map<std::string, torch::Tensor> rotate_layer(const ModelConfig& c, int64_t i, const FetchFn& fetch, const torch::Tensor& q);

// Embeddings and output head rotated, the final norm folded into the head (which is untied from
// the embeddings, so the config that runs them must have tie_word_embeddings false).
std::map<std::string, torch::Tensor> rotate_globals(const ModelConfig& c, const FetchFn& fetch, const torch::Tensor& q);

}  // namespace sq
