// Seed corpora for the fuzz targets, from real files: safetensors and GGUF files as the engine's
// own writers make them, config.json texts as Hugging Face ships them for LLaMA, Qwen2 and
// Mistral, the repository's tokenizer.json fixtures, prompt files cut from the shipped sets, and
// compressed-tensors configs as the exporter writes them. Usage: make_seeds SOURCE_DIR OUT_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "core/io/safetensors.h"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds SOURCE_DIR OUT_DIR\n");
    return 2;
  }
  const fs::path src(argv[1]), out(argv[2]);

  // safetensors: a few dtypes and shapes, with metadata.
  fs::create_directories(out / "safetensors");
  const std::vector<float> f = {1, -2, 0.5f, 3, 0, -1};
  const std::vector<uint16_t> bf = {0x3f80, 0x4000, 0xbf80, 0x4040};
  const std::vector<int8_t> i8 = {1, -1, 127, -128};
  sq::write_safetensors((out / "safetensors" / "model.safetensors").string(),
                        {{"model.embed_tokens.weight", sq::DType::F32, {2, 3}, f.data(), f.size() * 4},
                         {"model.norm.weight", sq::DType::BF16, {4}, bf.data(), bf.size() * 2},
                         {"model.layers.0.mlp.up_proj.weight", sq::DType::I8, {2, 2}, i8.data(), i8.size()}},
                        {{"format", "pt"}});
  sq::write_safetensors((out / "safetensors" / "empty.safetensors").string(), {});

  // GGUF: metadata of each kind the reader takes, and an F32 and a Q8_0 tensor.
  fs::create_directories(out / "gguf");
  const std::vector<float> g(32, 0.25f);
  sq::write_gguf((out / "gguf" / "model.gguf").string(),
                 {{"general.architecture", sq::GgufValue::string("llama")},
                  {"llama.block_count", sq::GgufValue::u32(1)},
                  {"llama.rope.freq_base", sq::GgufValue::f32(10000)},
                  {"tokenizer.ggml.tokens", sq::GgufValue::strings_array({"<s>", "a", "b"})},
                  {"tokenizer.ggml.token_type", sq::GgufValue::i32_array({3, 1, 1})},
                  {"tokenizer.ggml.scores", sq::GgufValue::f32_array({0, -1, -2})},
                  {"tokenizer.ggml.add_bos_token", sq::GgufValue::boolean(true)}},
                 {{"token_embd.weight", sq::GgmlType::F32, {32, 1},
                   [&] { return std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(g.data()), reinterpret_cast<const uint8_t*>(g.data()) + 128); }},
                  {"blk.0.ffn_up.weight", sq::GgmlType::Q8_0, {32, 1}, [] { return std::vector<uint8_t>(34, 1); }}});

  // config.json as the hub ships it.
  write(out / "config" / "llama.json",
        R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64,"intermediate_size":128,)"
        R"("num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":300,"rms_norm_eps":1e-5,)"
        R"("rope_theta":500000.0,"max_position_embeddings":2048,"tie_word_embeddings":true,"torch_dtype":"bfloat16",)"
        R"("rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})");
  write(out / "config" / "qwen2.json",
        R"({"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":64,"intermediate_size":160,)"
        R"("num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":4,"vocab_size":320,"rms_norm_eps":1e-6,)"
        R"("rope_theta":1000000.0,"max_position_embeddings":4096,"tie_word_embeddings":false,"use_sliding_window":false})");
  write(out / "config" / "mistral.json",
        R"({"architectures":["MistralForCausalLM"],"model_type":"mistral","hidden_size":64,"intermediate_size":128,)"
        R"("num_hidden_layers":1,"num_attention_heads":8,"num_key_value_heads":2,"head_dim":8,"vocab_size":256,)"
        R"("rms_norm_eps":1e-5,"rope_theta":10000.0,"sliding_window":4096,"rope_scaling":{"type":"linear","factor":2.0}})");

  // tokenizer.json: the synthetic fixtures, alone and with a text to encode after a NUL.
  for (const char* name : {"added_strip.json", "llama3_like.json"}) {
    const std::string t = read(src / "tests/data/tokenizers/synthetic" / name);
    write(out / "tokenizer" / name, t);
    write(out / "tokenizer" / (std::string(name) + ".text"), t + std::string(1, '\0') + "<m> ab  b\n\xC3\xA9 12");
  }
  // Chains whose output grows without bound (refused at 16 times the text): a normalizer of
  // chained Replace "l" -> "lll" and a stack of ByteLevel pre-tokenizers, each on a short text.
  {
    const std::string t = read(src / "tests/data/tokenizers/synthetic/added_strip.json");
    const size_t model = t.find("\"model\"");
    std::string replaces, levels;
    for (int i = 0; i < 40; ++i)
      replaces += std::string(i ? "," : "") + R"({"type":"Replace","pattern":{"String":"l"},"content":"lll"})";
    for (int i = 0; i < 200; ++i) levels += std::string(i ? "," : "") + R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":false})";
    const std::string normalizer = R"("normalizer":{"type":"Sequence","normalizers":[)" + replaces + "]},";
    const std::string pre = R"("pre_tokenizer":{"type":"Sequence","pretokenizers":[)" + levels + "]},";
    for (const auto& [name, part] : {std::pair<const char*, std::string>{"replace_chain.json", normalizer}, {"bytelevel_stack.json", pre}}) {
      std::string chained = t;
      const size_t old = chained.find("\"pre_tokenizer\"");
      if (part.rfind("\"pre_tokenizer\"", 0) == 0 && old != std::string::npos)
        chained.replace(old, chained.find("},", old) + 2 - old, part);
      else
        chained.insert(model, part);
      write(out / "tokenizer" / (std::string(name) + ".text"), chained + std::string(1, '\0') + "hello world");
    }
  }

  // Prompt files: the first byte picks CSV (odd) or JSONL (even).
  std::ifstream benign(src / "resources/data/benign_instructions.jsonl");
  std::string line, jsonl, csv = "id,prompt,label,source\n";
  for (int i = 0; i < 6 && std::getline(benign, line); ++i) jsonl += line + "\n";
  csv += "b1,\"Say \"\"hi\"\", then stop.\",benign,demo\nm1,\"A line\nthat wraps\",malicious,demo\n";
  write(out / "prompts" / "benign.jsonl", std::string(1, '\0') + jsonl);
  write(out / "prompts" / "prompts.csv", std::string(1, '\1') + csv);

  // compressed-tensors configs as the exporter writes them.
  const std::string weights8 = R"("weights":{"num_bits":8,"type":"int","symmetric":true,"strategy":"channel","group_size":null,"dynamic":false})";
  write(out / "compressed_tensors" / "w8a8.json",
        R"({"model_type":"llama","quantization_config":{"quant_method":"compressed-tensors","format":"int-quantized",)"
        R"("config_groups":{"group_0":{"targets":["Linear"],)" + weights8 +
            R"(,"input_activations":{"num_bits":8,"type":"int","symmetric":true,"strategy":"token","dynamic":true}}},"ignore":["lm_head"]}})");
  write(out / "compressed_tensors" / "w4a16.json",
        R"({"model_type":"llama","quantization_config":{"quant_method":"compressed-tensors","format":"pack-quantized",)"
        R"("config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int","symmetric":true,)"
        R"("strategy":"group","group_size":128},"input_activations":null}}}})");
  std::printf("make_seeds: wrote seeds to %s\n", out.c_str());
  return 0;
}
