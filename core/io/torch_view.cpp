#include "core/io/torch_view.h"

#include "core/error.h"

namespace sq {
namespace {

torch::ScalarType scalar_type(DType t, const std::string& name) {
  switch (t) {
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::F64: return torch::kFloat64;
    case DType::I8: return torch::kInt8;
    case DType::U8: return torch::kUInt8;
    case DType::I16: return torch::kInt16;
    case DType::I32: return torch::kInt32;
    case DType::I64: return torch::kInt64;
    case DType::BOOL: return torch::kBool;
  }
  throw Error("tensor '" + name + "' has a dtype the engine cannot view");
}

}  // namespace

torch::Tensor as_tensor(const TensorView& v) {
  // from_blob wants a mutable pointer; the map is read-only and nothing writes through it.
  return torch::from_blob(const_cast<unsigned char*>(v.data), v.shape,
                          torch::TensorOptions().dtype(scalar_type(v.dtype, v.name)));
}

}  // namespace sq
