#pragma once
// The safetensors format, read through a memory map and written atomically. A file is validated
// whole when opened: header length, JSON, dtypes, shapes against byte ranges, ranges inside the
// file and not overlapping. A model folder holds one file or shards listed in
// model.safetensors.index.json.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"

namespace sq {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // as safetensors spells it: "F32", "BF16", …
std::string shape_text(const std::vector<int64_t>& shape);  // "[4096, 4096]"

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const unsigned char* data;
  size_t nbytes;
  size_t file_offset;           // of the first byte, within the file
  const MappedFile* file;

  int64_t numel() const;
  std::string describe() const;  // "BF16[4096, 4096]"
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws sq::Error naming the file
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_->path(); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// The weights of a model folder: model.safetensors, or the shards its index names.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& model_dir);
  // Throws sq::Error naming the tensor and the weights file (or shard index) when it is missing.
  const TensorView& tensor(const std::string& name) const;
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // Hands the tensor's pages back to the kernel (it stays readable).
  void release(const std::string& name) const;
  size_t total_bytes() const;
  const std::string& dir() const { return dir_; }
  // model.safetensors, or model.safetensors.index.json for a sharded checkpoint: where a tensor
  // that is not there should have been.
  const std::string& where() const { return where_; }

 private:
  std::string dir_, where_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

struct TensorData {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};

// Writes a safetensors file atomically (tensors in the given order, data 8-byte aligned).
void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sq
