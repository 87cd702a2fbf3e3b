#pragma once
// The GGUF container (ggml's docs/gguf.md, version 3): typed key-value metadata, tensor infos
// and aligned tensor data. The writer streams tensors in declaration order, producing each one's
// bytes only when it is written, so a model never has to be in memory whole. The reader
// validates the whole header against the file before anything is used. Plain C++.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"

namespace sq {

enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11,
  F64 = 12
};

// ggml_type values of the tensor types this project writes and reads.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, BF16 = 30
};
const char* ggml_type_name(GgmlType t);
// Every type this build reads and writes, comma-separated, for messages.
std::string ggml_type_names();
// Bytes of `n` elements (n a multiple of the type's block size); throws for other n.
uint64_t ggml_row_bytes(GgmlType t, int64_t n);
int64_t ggml_block_size(GgmlType t);
// F32, F16 or BF16: values one by one, no blocks.
bool ggml_is_float(GgmlType t);

// One metadata value: a scalar, or an array of one scalar type. Integers and floats are held
// widened; the type says how they are stored.
struct GgufValue {
  GgufValueType type = GgufValueType::U32;
  GgufValueType elem = GgufValueType::U32;  // arrays only
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::string where;  // "file: metadata 'key'" for values read from a file, for messages

  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  static GgufValue strings_array(std::vector<std::string> v);
  static GgufValue i32_array(std::vector<int32_t> v);
  static GgufValue f32_array(std::vector<float> v);

  // Readers' accessors; throw when the value is not of that kind.
  int64_t as_int() const;
  double as_float() const;
  bool as_bool() const;
  const std::string& as_string() const;
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

struct GgufTensorOut {
  std::string name;
  GgmlType type;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (innermost) dimension
  // Called once, in declaration order, when the tensor's data is due; must return exactly
  // the type's bytes for ne.
  std::function<std::vector<uint8_t>()> produce;
};

// Writes a GGUF file atomically (temporary name beside `path`, flushed, renamed). `progress`
// (optional) is told after each tensor. Throws sq::Error naming the path.
void write_gguf(const std::string& path, const GgufMetadata& metadata, const std::vector<GgufTensorOut>& tensors,
                uint32_t alignment = 32, const std::function<void(size_t done, size_t total)>& progress = nullptr);

struct GgufTensorIn {
  std::string name;
  GgmlType type;
  std::vector<int64_t> ne;
  const unsigned char* data;
  uint64_t nbytes;
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);  // throws sq::Error naming the file and the problem
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  const GgufValue& at(const std::string& key) const;  // throws naming the file and the key
  const std::vector<GgufTensorIn>& tensors() const { return tensors_; }
  const GgufTensorIn* tensor(const std::string& name) const;
  const std::string& path() const { return file_->path(); }

 private:
  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0, alignment_ = 32;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorIn> tensors_;
};

}  // namespace sq
