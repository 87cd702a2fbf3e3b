#include "core/zoo/model_folder.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/io/staged_folder.h"

namespace sq {

void save_zoo_model(const std::string& folder, const ModelConfig& c, const Params& params, const ZooFolderText& text) {
  using nlohmann::json;
  const std::filesystem::path dir(folder);
  create_folder(folder);
  std::vector<torch::Tensor> keep;
  std::vector<TensorData> tensors;
  for (const ParamSpec& spec : parameter_specs(c)) {
    keep.push_back(params.at(spec.name).detach().contiguous());
    tensors.push_back({spec.name, DType::F32, spec.shape, keep.back().data_ptr<float>(), size_t(keep.back().numel()) * 4});
  }
  write_safetensors((dir / "model.safetensors").string(), tensors, {{"format", "pt"}});
  const json config = {{"architectures", {"LlamaForCausalLM"}},
                       {"model_type", "llama"},
                       {"vocab_size", c.vocab_size},
                       {"hidden_size", c.hidden_size},
                       {"intermediate_size", c.intermediate_size},
                       {"num_hidden_layers", c.num_layers},
                       {"num_attention_heads", c.num_heads},
                       {"num_key_value_heads", c.num_kv_heads},
                       {"hidden_act", "silu"},
                       {"max_position_embeddings", c.max_position_embeddings},
                       {"rms_norm_eps", c.rms_norm_eps},
                       {"rope_theta", c.rope_theta},
                       {"tie_word_embeddings", c.tie_word_embeddings},
                       {"attention_bias", false},
                       {"bos_token_id", nullptr},
                       {"eos_token_id", text.eos_id},
                       {"pad_token_id", text.pad_id},
                       {"torch_dtype", "float32"}};
  write_text_atomically((dir / "config.json").string(), config.dump(2) + "\n");
  write_text_atomically((dir / "tokenizer.json").string(), text.tokenizer_json);
  const json tok_config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                           {"chat_template", text.chat_template},
                           {"bos_token", nullptr},
                           {"eos_token", text.eos_token},
                           {"pad_token", text.pad_token},
                           {"model_max_length", c.max_position_embeddings},
                           {"add_bos_token", false}};
  write_text_atomically((dir / "tokenizer_config.json").string(), tok_config.dump(2) + "\n");
  write_text_atomically((dir / "generation_config.json").string(),
             json{{"eos_token_id", text.eos_id}, {"pad_token_id", text.pad_id}, {"do_sample", false}}.dump(2) + "\n");
}

}  // namespace sq
