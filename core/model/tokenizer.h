#pragma once
// A Hugging Face tokenizer.json, read and applied with the semantics of the `tokenizers`
// library: added tokens, normalizers, pre-tokenizers, BPE, post-processor and decoders. A file
// that uses a component this reader does not implement is refused with the component's name.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sq {

class Tokenizer {
 public:
  // Throws sq::Error naming the file and the problem.
  static Tokenizer load(const std::string& path);
  static Tokenizer from_json(const std::string& json_text, const std::string& origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of `text`; `add_special` applies the post-processor (BOS and the like).
  std::vector<int32_t> encode(const std::string& text, bool add_special = false) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;
  // One more than the largest id, added tokens included.
  int32_t vocab_size() const;
  // "byte-level BPE" or "SentencePiece-style BPE".
  std::string kind() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sq
