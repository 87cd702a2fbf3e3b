#include "core/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace sq {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32

bool is_float(GgufValueType t) { return t == GgufValueType::F32 || t == GgufValueType::F64; }

template <typename T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::ostream& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.write(s.data(), std::streamsize(s.size()));
}

void put_scalar(std::ostream& out, GgufValueType t, int64_t i, double f) {
  switch (t) {
    case GgufValueType::U8: return put<uint8_t>(out, uint8_t(i));
    case GgufValueType::I8: return put<int8_t>(out, int8_t(i));
    case GgufValueType::Bool: return put<uint8_t>(out, i ? 1 : 0);
    case GgufValueType::U16: return put<uint16_t>(out, uint16_t(i));
    case GgufValueType::I16: return put<int16_t>(out, int16_t(i));
    case GgufValueType::U32: return put<uint32_t>(out, uint32_t(i));
    case GgufValueType::I32: return put<int32_t>(out, int32_t(i));
    case GgufValueType::F32: return put<float>(out, float(f));
    case GgufValueType::U64: return put<uint64_t>(out, uint64_t(i));
    case GgufValueType::I64: return put<int64_t>(out, i);
    case GgufValueType::F64: return put<double>(out, f);
    default: throw Error("GGUF: not a scalar type");
  }
}

void put_value(std::ostream& out, const GgufValue& v) {
  put<uint32_t>(out, uint32_t(v.type));
  if (v.type == GgufValueType::String) return put_string(out, v.strings.at(0));
  if (v.type != GgufValueType::Array) return put_scalar(out, v.type, v.ints.empty() ? 0 : v.ints[0], v.floats.empty() ? 0 : v.floats[0]);
  put<uint32_t>(out, uint32_t(v.elem));
  if (v.elem == GgufValueType::String) {
    put<uint64_t>(out, v.strings.size());
    for (const auto& s : v.strings) put_string(out, s);
  } else if (is_float(v.elem)) {
    put<uint64_t>(out, v.floats.size());
    for (double f : v.floats) put_scalar(out, v.elem, 0, f);
  } else {
    put<uint64_t>(out, v.ints.size());
    for (int64_t i : v.ints) put_scalar(out, v.elem, i, 0);
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Bounds-checked reading of the mapped header; every failure names the file and the offset.
class Cursor {
 public:
  Cursor(const MappedFile& f) : f_(f) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, f_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string string() {
    const uint64_t n = get<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(f_.data() + pos_), size_t(n));
    pos_ += n;
    return s;
  }
  void need(uint64_t n) const {
    if (n > f_.size() || pos_ > f_.size() - n)
      throw Error(f_.path(), "truncated GGUF header (needs " + std::to_string(n) + " bytes at offset " +
                                 std::to_string(pos_) + ", file has " + std::to_string(f_.size()) + ")");
  }
  uint64_t pos() const { return pos_; }

 private:
  const MappedFile& f_;
  uint64_t pos_ = 0;
};

void read_scalar(Cursor& c, GgufValueType t, GgufValue& v, const std::string& path, const std::string& key) {
  switch (t) {
    case GgufValueType::U8: v.ints.push_back(c.get<uint8_t>()); return;
    case GgufValueType::I8: v.ints.push_back(c.get<int8_t>()); return;
    case GgufValueType::Bool: v.ints.push_back(c.get<uint8_t>() != 0); return;
    case GgufValueType::U16: v.ints.push_back(c.get<uint16_t>()); return;
    case GgufValueType::I16: v.ints.push_back(c.get<int16_t>()); return;
    case GgufValueType::U32: v.ints.push_back(c.get<uint32_t>()); return;
    case GgufValueType::I32: v.ints.push_back(c.get<int32_t>()); return;
    case GgufValueType::F32: v.floats.push_back(c.get<float>()); return;
    case GgufValueType::U64: v.ints.push_back(int64_t(c.get<uint64_t>())); return;
    case GgufValueType::I64: v.ints.push_back(c.get<int64_t>()); return;
    case GgufValueType::F64: v.floats.push_back(c.get<double>()); return;
    case GgufValueType::String: v.strings.push_back(c.string()); return;
    default: throw Error(path, "metadata " + quote_value(key) + " has unknown value type " + std::to_string(uint32_t(t)));
  }
}

}  // namespace

namespace {

// Each type's name, values per block and bytes per block (ggml-common.h).
struct TypeInfo {
  GgmlType type;
  const char* name;
  int64_t block;
  uint64_t bytes;
};
const TypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},     {GgmlType::F16, "F16", 1, 2},       {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::Q8_0, "Q8_0", 32, 34}, {GgmlType::Q4_0, "Q4_0", 32, 18},   {GgmlType::Q5_0, "Q5_0", 32, 22},
    {GgmlType::Q5_1, "Q5_1", 32, 24}, {GgmlType::Q2_K, "Q2_K", 256, 84},  {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144}, {GgmlType::Q5_K, "Q5_K", 256, 176}, {GgmlType::Q6_K, "Q6_K", 256, 210},
};

const TypeInfo* type_info(GgmlType t) {
  for (const TypeInfo& i : kTypes)
    if (i.type == t) return &i;
  return nullptr;
}

}  // namespace

const char* ggml_type_name(GgmlType t) {
  const TypeInfo* i = type_info(t);
  return i ? i->name : "?";
}

std::string ggml_type_names() {
  std::string out;
  for (const TypeInfo& i : kTypes) out += (out.empty() ? "" : ", ") + std::string(i.name);
  return out;
}

int64_t ggml_block_size(GgmlType t) {
  const TypeInfo* i = type_info(t);
  return i ? i->block : 1;
}

bool ggml_is_float(GgmlType t) { return ggml_block_size(t) == 1; }

uint64_t ggml_row_bytes(GgmlType t, int64_t n) {
  const TypeInfo* i = type_info(t);
  if (!i) throw Error("GGUF: unknown tensor type");
  if (n % i->block != 0)
    throw Error(std::string("GGUF: ") + i->name + " needs rows of a multiple of " + std::to_string(i->block) + " values, not " +
                std::to_string(n));
  return uint64_t(n / i->block) * i->bytes;
}

GgufValue GgufValue::u32(uint32_t v) { GgufValue x; x.type = GgufValueType::U32; x.ints = {v}; return x; }
GgufValue GgufValue::i32(int32_t v) { GgufValue x; x.type = GgufValueType::I32; x.ints = {v}; return x; }
GgufValue GgufValue::f32(float v) { GgufValue x; x.type = GgufValueType::F32; x.floats = {v}; return x; }
GgufValue GgufValue::boolean(bool v) { GgufValue x; x.type = GgufValueType::Bool; x.ints = {v}; return x; }
GgufValue GgufValue::string(std::string v) { GgufValue x; x.type = GgufValueType::String; x.strings = {std::move(v)}; return x; }
GgufValue GgufValue::strings_array(std::vector<std::string> v) {
  GgufValue x; x.type = GgufValueType::Array; x.elem = GgufValueType::String; x.strings = std::move(v); return x;
}
GgufValue GgufValue::i32_array(std::vector<int32_t> v) {
  GgufValue x; x.type = GgufValueType::Array; x.elem = GgufValueType::I32; x.ints.assign(v.begin(), v.end()); return x;
}
GgufValue GgufValue::f32_array(std::vector<float> v) {
  GgufValue x; x.type = GgufValueType::Array; x.elem = GgufValueType::F32; x.floats.assign(v.begin(), v.end()); return x;
}

int64_t GgufValue::as_int() const {
  if (type == GgufValueType::Array || type == GgufValueType::String || is_float(type) || ints.empty())
    throw Error(where.empty() ? "GGUF value" : where, "is not an integer");
  return ints[0];
}
double GgufValue::as_float() const {
  if (is_float(type) && !floats.empty()) return floats[0];
  return double(as_int());
}
bool GgufValue::as_bool() const { return as_int() != 0; }
const std::string& GgufValue::as_string() const {
  if (type != GgufValueType::String || strings.empty()) throw Error(where.empty() ? "GGUF value" : where, "is not a string");
  return strings[0];
}

void write_gguf(const std::string& path, const GgufMetadata& metadata, const std::vector<GgufTensorOut>& tensors,
                uint32_t alignment, const std::function<void(size_t, size_t)>& progress) {
  std::vector<uint64_t> offsets, sizes;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.ne.empty() || t.ne.size() > 4) throw Error(path, "tensor " + quote_value(t.name) + " must have 1 to 4 dimensions");
    uint64_t bytes = ggml_row_bytes(t.type, t.ne[0]);
    for (size_t d = 1; d < t.ne.size(); ++d) bytes *= uint64_t(t.ne[d]);
    offset = align_up(offset, alignment);
    offsets.push_back(offset);
    sizes.push_back(bytes);
    offset += bytes;
  }
  write_atomically(path, [&](std::ostream& out) {
    put<uint32_t>(out, kMagic);
    put<uint32_t>(out, 3);
    put<uint64_t>(out, tensors.size());
    put<uint64_t>(out, metadata.size());
    for (const auto& [key, value] : metadata) {
      put_string(out, key);
      put_value(out, value);
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
      put_string(out, tensors[i].name);
      put<uint32_t>(out, uint32_t(tensors[i].ne.size()));
      for (int64_t n : tensors[i].ne) put<uint64_t>(out, uint64_t(n));
      put<uint32_t>(out, uint32_t(tensors[i].type));
      put<uint64_t>(out, offsets[i]);
    }
    const std::vector<char> zeros(alignment, 0);
    auto pad_to = [&](uint64_t pos) {
      const uint64_t here = uint64_t(out.tellp());
      out.write(zeros.data(), std::streamsize(align_up(here, pos) - here));
    };
    pad_to(alignment);
    const uint64_t data_start = uint64_t(out.tellp());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const uint64_t here = uint64_t(out.tellp()) - data_start;
      out.write(zeros.data(), std::streamsize(offsets[i] - here));
      const std::vector<uint8_t> bytes = tensors[i].produce();
      if (bytes.size() != sizes[i])
        throw Error(path, "tensor '" + tensors[i].name + "' produced " + std::to_string(bytes.size()) + " bytes, " +
                              std::to_string(sizes[i]) + " expected");
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      if (!out) throw Error(path, "write failed (disk full?)");
      if (progress) progress(i + 1, tensors.size());
    }
  });
}

GgufFile::GgufFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  Cursor c(*file_);
  if (file_->size() < 4 || c.get<uint32_t>() != kMagic) throw Error(path, "not a GGUF file (bad magic)");
  version_ = c.get<uint32_t>();
  if (version_ != 2 && version_ != 3) throw Error(path, "GGUF version " + std::to_string(version_) + " is not supported (2 or 3)");
  const uint64_t n_tensors = c.get<uint64_t>(), n_kv = c.get<uint64_t>();
  // Each entry takes at least 8 bytes of header, so larger counts cannot be honest.
  if (n_tensors > file_->size() / 8 || n_kv > file_->size() / 8) throw Error(path, "implausible tensor or metadata count");
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = c.string();
    GgufValue v;
    v.where = path + ": metadata '" + key.substr(0, 200) + "'";
    v.type = GgufValueType(c.get<uint32_t>());
    if (v.type == GgufValueType::Array) {
      v.elem = GgufValueType(c.get<uint32_t>());
      if (v.elem == GgufValueType::Array) throw Error(path, "metadata " + quote_value(key) + ": nested arrays are not supported");
      const uint64_t n = c.get<uint64_t>();
      c.need(n);  // every element takes at least a byte: a cheap bound before the loop
      for (uint64_t k = 0; k < n; ++k) read_scalar(c, v.elem, v, path, key);
    } else {
      read_scalar(c, v.type, v, path, key);
    }
    if (!metadata_.emplace(key, std::move(v)).second) throw Error(path, "metadata key " + quote_value(key) + " appears twice");
  }
  if (const GgufValue* a = find("general.alignment")) {
    const int64_t al = a->as_int();
    if (al <= 0 || (al & (al - 1)) != 0) throw Error(path, "general.alignment " + std::to_string(al) + " is not a power of two");
    alignment_ = uint32_t(al);
  }
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorIn t{};
    t.name = c.string();
    const uint32_t dims = c.get<uint32_t>();
    if (dims == 0 || dims > 4) throw Error(path, "tensor " + quote_value(t.name) + " has " + std::to_string(dims) + " dimensions");
    for (uint32_t d = 0; d < dims; ++d) {
      const uint64_t n = c.get<uint64_t>();
      if (n == 0 || n > (uint64_t(1) << 40)) throw Error(path, "tensor " + quote_value(t.name) + " has an implausible dimension");
      t.ne.push_back(int64_t(n));
    }
    const uint32_t type = c.get<uint32_t>();
    t.type = GgmlType(type);
    if (std::string(ggml_type_name(t.type)) == "?")
      throw Error(path, "tensor " + quote_value(t.name) + " has ggml type " + std::to_string(type) + ", which this build does not read (" + ggml_type_names() + ")");
    offsets.push_back(c.get<uint64_t>());
    try {
      t.nbytes = ggml_row_bytes(t.type, t.ne[0]);
    } catch (const Error& e) {
      throw Error(path, "tensor " + quote_value(t.name) + ": " + e.what());
    }
    for (size_t d = 1; d < t.ne.size(); ++d) {
      if (t.nbytes > file_->size() / uint64_t(t.ne[d]))  // also keeps the product from wrapping
        throw Error(path, "tensor " + quote_value(t.name) + " is larger than the file");
      t.nbytes *= uint64_t(t.ne[d]);
    }
    tensors_.push_back(std::move(t));
  }
  const uint64_t data_start = align_up(c.pos(), alignment_);
  const uint64_t data_size = data_start <= file_->size() ? file_->size() - data_start : 0;
  std::set<std::string> names;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    auto& t = tensors_[i];
    if (offsets[i] % alignment_ != 0) throw Error(path, "tensor " + quote_value(t.name) + " is not aligned");
    // Compared without adding to the offset, which could wrap past the bound.
    if (offsets[i] > data_size || t.nbytes > data_size - offsets[i])
      throw Error(path, "tensor " + quote_value(t.name) + " lies beyond the end of the file (truncated?)");
    t.data = file_->data() + data_start + offsets[i];
    if (!names.insert(t.name).second) throw Error(path, "tensor " + quote_value(t.name) + " appears twice");
  }
  // No two tensors may share bytes: a write to one would change the other's values.
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
  for (size_t k = 1; k < order.size(); ++k) {
    const size_t prev = order[k - 1], cur = order[k];
    if (offsets[prev] + tensors_[prev].nbytes > offsets[cur])
      throw Error(path, "tensors '" + tensors_[prev].name + "' and '" + tensors_[cur].name + "' overlap");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::at(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error(path(), "missing metadata key " + quote_value(key));
  return *v;
}

const GgufTensorIn* GgufFile::tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace sq
