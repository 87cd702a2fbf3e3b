#pragma once
// A stored tensor (safetensors or GGUF view) as a torch tensor, without a copy. Torch-facing.
#include <torch/torch.h>

#include "core/io/safetensors.h"

namespace sq {

// The view's own dtype; sq::Error names the tensor when torch has no such type.
torch::Tensor as_tensor(const TensorView& view);

}  // namespace sq
