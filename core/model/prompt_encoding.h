#pragma once
// Prompts as a model reads them: through its chat template (when asked and recognised) and its
// tokenizer, and cut to its context. Probing, evaluation and calibration share it. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/model.h"

namespace sq {

// Cuts each prompt longer than `limit` tokens to its last `limit`, so that the chat template's
// assistant header and the request's end stay; returns how many were cut.
size_t keep_last_tokens(std::vector<std::vector<int32_t>>& prompts, size_t limit);

// Prompts as the model sees them for probing: chat-templated when asked and recognised.
std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts, bool chat,
                                                 std::string* template_name = nullptr);

}  // namespace sq
