#include "core/io/ggml_blocks.h"

#include <cstring>

#include "core/error.h"
#include "core/io/ggml_kquants.h"
#include "kernels/half.h"

namespace sq {
namespace {

uint16_t fp32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return uint16_t((u >> 16) | 64);  // keep NaN a (quiet) NaN
  return uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

float bf16_to_fp32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
uint16_t get16(const unsigned char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

std::vector<uint8_t> encode_quant_blocks(GgmlType type, const int32_t* codes, const float* scales, int64_t n) {
  std::vector<uint8_t> out(ggml_row_bytes(type, n));
  uint8_t* p = out.data();
  for (int64_t b = 0; b < n / 32; ++b) {
    const int32_t* q = codes + b * 32;
    put16(p, kernels::fp32_to_fp16(scales[b]));
    if (type == GgmlType::Q8_0) {
      for (int j = 0; j < 32; ++j) p[2 + j] = uint8_t(int8_t(q[j]));
      p += 34;
    } else if (type == GgmlType::Q4_0) {
      for (int j = 0; j < 16; ++j) p[2 + j] = uint8_t((q[j] & 15) | ((q[j + 16] & 15) << 4));
      p += 18;
    } else {
      throw Error(std::string("encode_quant_blocks: ") + ggml_type_name(type) + " is not a block type");
    }
  }
  return out;
}

std::vector<uint8_t> encode_floats(GgmlType type, const float* x, int64_t n) {
  std::vector<uint8_t> out(ggml_row_bytes(type, n));
  if (type == GgmlType::F32) {
    std::memcpy(out.data(), x, out.size());
  } else if (type == GgmlType::F16) {
    for (int64_t i = 0; i < n; ++i) put16(out.data() + 2 * i, kernels::fp32_to_fp16(x[i]));
  } else if (type == GgmlType::BF16) {
    for (int64_t i = 0; i < n; ++i) put16(out.data() + 2 * i, fp32_to_bf16(x[i]));
  } else {
    throw Error(std::string("encode_floats: ") + ggml_type_name(type) + " is a block type");
  }
  return out;
}

void decode_values(GgmlType type, const unsigned char* p, int64_t n, float* out) {
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out, p, size_t(n) * 4);
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = kernels::fp16_to_fp32(get16(p + 2 * i));
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(get16(p + 2 * i));
      return;
    case GgmlType::Q8_0:
      for (int64_t b = 0; b < n / 32; ++b, p += 34) {
        const float d = kernels::fp16_to_fp32(get16(p));
        for (int j = 0; j < 32; ++j) out[b * 32 + j] = float(int8_t(p[2 + j])) * d;
      }
      return;
    case GgmlType::Q4_0:
      for (int64_t b = 0; b < n / 32; ++b, p += 18) {
        const float d = kernels::fp16_to_fp32(get16(p));
        for (int j = 0; j < 16; ++j) {
          out[b * 32 + j] = (float(p[2 + j] & 15) - 8.f) * d;
          out[b * 32 + j + 16] = (float(p[2 + j] >> 4) - 8.f) * d;
        }
      }
      return;
    default:
      dequantize_row_reference(type, p, n, out);  // throws for a type this build does not know
      return;
  }
}

}  // namespace sq
