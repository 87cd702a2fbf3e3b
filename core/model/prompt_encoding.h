#pragma once
// Prompts as a model reads them: through its chat template (when asked and recognised) and its
// tokenizer, and cut to its context. Probing, evaluation and calibration share it. Plain C++.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/prompt_set.h"
#include "core/model/chat_template.h"
#include "core/model/model.h"

namespace sq {

// Cuts each prompt longer than `limit` tokens to its last `limit`, so that the chat template's
// assistant header and the request's end stay; returns how many were cut.
size_t keep_last_tokens(std::vector<std::vector<int32_t>>& prompts, size_t limit);

// The prompts' indices, shortest first (ties in their order): batches taken in this order pad
// each prompt to a length near its own, so that their cost grows with the real tokens.
std::vector<size_t> shortest_first(const std::vector<std::vector<int32_t>>& prompts);

// Indices 0 … n - 1 in batches of `batch_size` (the last may hold fewer), in order.
std::vector<std::vector<size_t>> consecutive_batches(size_t n, size_t batch_size);

// The prompts' indices in batches of at most `batch_size`, shortest first, each closed early
// where the next prompt would make it compute more than `padded_share` times its real tokens
// (every row is padded to the batch's longest): a pass over prompts of very different lengths
// then costs about what their tokens do.
std::vector<std::vector<size_t>> length_batches(const std::vector<std::vector<int32_t>>& prompts, size_t batch_size,
                                                double padded_share = 1.25);

// How a run's prompts were rendered, for its report: the template's name ("model", a built-in
// format, or "raw"), the system message and the date strftime_now read.
struct ChatRecord {
  std::string template_name, system, date;
};

// Prompts as the model sees them: through the model's chat template (or the built-in one the
// settings name) unless chat is off, with one date for the whole set. Throws sq::Error when the
// template is refused or raises, naming its file.
std::vector<std::vector<int32_t>> encode_prompts(const Model& model, const std::vector<Prompt>& prompts,
                                                 const ChatSettings& chat, ChatRecord* record = nullptr);

}  // namespace sq
