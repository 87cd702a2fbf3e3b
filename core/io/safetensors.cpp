#include "core/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"

namespace sq {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = 100u << 20;  // the format's own bound on the JSON header

const std::pair<const char*, DType> kDTypes[] = {
    {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64}, {"I8", DType::I8},
    {"U8", DType::U8},   {"I16", DType::I16}, {"I32", DType::I32},   {"I64", DType::I64}, {"BOOL", DType::BOOL}};

}  // namespace

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  for (const auto& [name, d] : kDTypes)
    if (d == t) return name;
  return "?";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string TensorView::describe() const { return std::string(dtype_name(dtype)) + shape_text(shape); }

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  const size_t size = file_->size();
  if (size < 8) throw Error(path, "not a safetensors file: shorter than its 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, file_->data(), 8);  // little-endian, as is every machine this runs on
  if (n > kMaxHeader) throw Error(path, "safetensors header length " + std::to_string(n) + " exceeds the 100 MB bound");
  if (n > size - 8) throw Error(path, "safetensors header length " + std::to_string(n) + " runs past the end of the file");
  const json header = parse_json(std::string_view(reinterpret_cast<const char*>(file_->data()) + 8, size_t(n)),
                                 path + ": safetensors header");
  if (!header.is_object()) throw Error(path, "safetensors header is not a JSON object");
  const size_t data_start = 8 + static_cast<size_t>(n);
  const size_t data_size = size - data_start;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(path, "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items())
        if (v.is_string()) metadata_[k] = v.get<std::string>();
      continue;
    }
    const std::string where = "tensor " + quote_value(name);
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw Error(path, where + " lacks dtype, shape or data_offsets");
    const std::string dt = entry["dtype"].is_string() ? entry["dtype"].get<std::string>() : "";
    auto d = std::find_if(std::begin(kDTypes), std::end(kDTypes), [&](const auto& p) { return dt == p.first; });
    if (d == std::end(kDTypes)) throw Error(path, where + " has unsupported dtype " + quote_value(dt));
    TensorView v{name, d->second, {}, nullptr, 0, 0, file_.get()};
    for (const json& s : entry["shape"]) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0) throw Error(path, where + " has an invalid shape");
      v.shape.push_back(s.get<int64_t>());
    }
    const json& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw Error(path, where + " has invalid data_offsets");
    const size_t begin = off[0].get<size_t>(), end = off[1].get<size_t>();
    if (begin > end || end > data_size)
      throw Error(path, where + " data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") lie outside the " + std::to_string(data_size) + "-byte data section");
    v.nbytes = end - begin;
    // The element count in bytes, refused before it can overflow (a shape of [2^62, 4] wraps to 0).
    size_t bytes = dtype_size(v.dtype);
    for (int64_t dim : v.shape) {
      if (dim != 0 && bytes > SIZE_MAX / size_t(dim))
        throw Error(path, where + " has shape " + shape_text(v.shape) + ", whose byte count overflows (the data section holds " +
                              std::to_string(data_size) + " bytes)");
      bytes *= size_t(dim);
    }
    if (bytes != v.nbytes)
      throw Error(path, where + " is " + v.describe() + " = " + std::to_string(bytes) + " bytes, but its byte range holds " +
                            std::to_string(v.nbytes));
    v.file_offset = data_start + begin;
    v.data = file_->data() + v.file_offset;
    ranges.emplace_back(begin, end);
    tensors_.emplace(name, std::move(v));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw Error(path, "two tensors' byte ranges overlap at offset " + std::to_string(ranges[i].first));
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Checkpoint::Checkpoint(const std::string& model_dir) : dir_(model_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(model_dir);
  const fs::path single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    where_ = index.string();
    const json j = read_json_file(index.string());
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) throw Error(index.string(), "has no weight_map object");
    std::map<std::string, SafetensorsFile*> opened;
    for (const auto& [name, shard] : j["weight_map"].items()) {
      if (!shard.is_string())
        throw Error(index.string(), "weight_map entry '" + name.substr(0, 200) + "' is " + json_excerpt(shard, 200) + ", not a shard file name");
      const std::string file = shard.get<std::string>();
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
        throw Error(index.string(), "shard name '" + file.substr(0, 200) + "' leaves the model folder");
      if (!opened.count(file)) {
        files_.push_back(std::make_unique<SafetensorsFile>((dir / file).string()));
        opened[file] = files_.back().get();
      }
      const TensorView* v = opened[file]->find(name);
      if (!v) throw Error((dir / file).string(), "tensor " + quote_value(name) + " listed in the index is missing from this shard");
      index_[name] = v;
    }
  } else if (fs::exists(single)) {
    where_ = single.string();
    files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (const auto& [name, v] : files_.back()->tensors()) index_[name] = &v;
  } else {
    throw Error(model_dir, "no model.safetensors or model.safetensors.index.json in this folder");
  }
}

const TensorView& Checkpoint::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw Error(where_, "no tensor " + quote_value(name));
  return *it->second;
}

bool Checkpoint::has(const std::string& name) const { return index_.count(name) > 0; }

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& kv : index_) out.push_back(kv.first);
  return out;
}

void Checkpoint::release(const std::string& name) const {
  const TensorView& v = tensor(name);
  v.file->release(v.file_offset, v.nbytes);
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& kv : index_) n += kv.second->nbytes;
  return n;
}

void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  std::vector<size_t> padding;
  for (const TensorData& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    if (static_cast<size_t>(n) * dtype_size(t.dtype) != t.nbytes)
      throw Error(path, "tensor " + quote_value(t.name) + ": shape and byte count disagree");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
    padding.push_back((8 - offset % 8) % 8);  // keep the next tensor 8-byte aligned
    offset += padding.back();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  write_atomically(path, [&](std::ostream& out) {
    const uint64_t n = text.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    static const char zeros[8] = {};
    for (size_t i = 0; i < tensors.size(); ++i) {
      out.write(static_cast<const char*>(tensors[i].data), static_cast<std::streamsize>(tensors[i].nbytes));
      out.write(zeros, static_cast<std::streamsize>(padding[i]));
    }
  });
}

}  // namespace sq
