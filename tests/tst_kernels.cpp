// The CPU twins of the quantization kernels against hand-computed values and a scalar reference;
// the CUDA versions against the CPU twins where a device exists.
#include <QtTest>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "kernels/fake_quant.h"
#include "kernels/hadamard.h"
#include "kernels/half.h"
#include "kernels/half_matmul.h"
#include "kernels/packed_matmul.h"
#include "kernels/panel_gemm.h"
#include "kernels/weight_quant.h"

using namespace sq::kernels;

// Every CPU path of the packed kernels: the one chosen at load, the AVX2 kernels that AVX-512 VNNI
// processors would otherwise skip, and the portable loop.
constexpr CpuPath kPackedPaths[] = {CpuPath::Best, CpuPath::Avx2, CpuPath::Portable};

class TstKernels : public QObject {
  Q_OBJECT

 private:
  static std::vector<float> random_rows(int64_t rows, int64_t cols, unsigned seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.f, 2.f);
    std::vector<float> x(static_cast<size_t>(rows * cols));
    for (float& v : x) v = dist(gen);
    return x;
  }

  // A random [rows, cols] weight on a grid, packed, with its dequantized values.
  struct Packed {
    PackedHost host;
    std::vector<float> dequant;
    PackedWeights view(int64_t rows, int64_t cols, int64_t group) const {
      return {rows, cols, group, host.bits, host.codes.data(), host.scales.data(), host.zeros.data()};
    }
  };
  static Packed packed(int64_t rows, int64_t cols, int64_t group, int bits, GridKind kind, unsigned seed) {
    const auto w = random_rows(rows, cols, seed);
    Packed p;
    p.dequant.resize(w.size());
    std::vector<int32_t> codes(w.size());
    std::vector<float> scales(size_t(rows * cols / group)), zeros(scales.size());
    fake_quant_weight(Device::Cpu, w.data(), p.dequant.data(), rows, cols, {bits, kind, group}, nullptr, codes.data(), scales.data(),
                      zeros.data());
    if (!pack_weights(codes.data(), scales.data(), zeros.data(), rows, cols, group, bits, kind, p.host))
      qFatal("no packed layout for %lldx%lld g%lld", (long long)rows, (long long)cols, (long long)group);
    return p;
  }
  // x [n, cols] times dequantᵀ in double, and the scale of its rounding: sum |x| |w|.
  static void reference(const std::vector<float>& x, const std::vector<float>& w, int64_t n, int64_t rows, int64_t cols,
                        std::vector<double>& y, std::vector<double>& magnitude) {
    y.assign(size_t(n * rows), 0.0);
    magnitude.assign(y.size(), 0.0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          y[size_t(t * rows + r)] += double(x[size_t(t * cols + c)]) * w[size_t(r * cols + c)];
          magnitude[size_t(t * rows + r)] += std::fabs(double(x[size_t(t * cols + c)]) * w[size_t(r * cols + c)]);
        }
  }
  static void expectClose(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& magnitude,
                          const char* what) {
    for (size_t i = 0; i < got.size(); ++i)
      if (std::fabs(got[i] - want[i]) > 2e-6 * magnitude[i] + 1e-6)
        QFAIL(qPrintable(QString("%1: element %2 is %3, fake quantization gives %4").arg(what).arg(i).arg(got[i]).arg(want[i])));
  }

 private Q_SLOTS:
  void perTokenSymmetricHandValues() {
    // Row max 1.27 at 8 bits: scale 0.01, so values land on hundredths.
    const std::vector<float> x = {1.27f, -0.504f, 0.016f, 0.0f, /* row 2 */ -2.f, 0.9f, 0.26f, 0.74f};
    std::vector<float> y(8), s(2);
    fake_quant_per_token_symmetric(Device::Cpu, x.data(), y.data(), s.data(), 2, 4, 8);
    QCOMPARE(s[0], 1.27f / 127.f);
    const float expect0[] = {1.27f, -0.50f, 0.02f, 0.f};
    for (int i = 0; i < 4; ++i) QVERIFY2(std::fabs(y[static_cast<size_t>(i)] - expect0[i]) < 1e-6f, qPrintable(QString::number(i)));
    // 4 bits: qmax 7, row max 2 -> scale 2/7; 0.9 -> 3.15 -> 3; 0.26 -> 0.91 -> 1; 0.74 -> 2.59 -> 3.
    fake_quant_per_token_symmetric(Device::Cpu, x.data() + 4, y.data(), s.data(), 1, 4, 4);
    const float sc = 2.f / 7.f;
    const float expect1[] = {-2.f, 3 * sc, 1 * sc, 3 * sc};
    for (int i = 0; i < 4; ++i) QVERIFY(std::fabs(y[static_cast<size_t>(i)] - expect1[i]) < 1e-6f);
  }

  void tiesRoundToEven() {
    // Row max 7 at 4 bits: scale 1, so 2.5 -> 2 and 3.5 -> 4 and -0.5 -> -0 (ties to even, as torch.round).
    const std::vector<float> x = {7.f, 2.5f, 3.5f, -0.5f};
    std::vector<float> y(4);
    fake_quant_per_token_symmetric(Device::Cpu, x.data(), y.data(), nullptr, 1, 4, 4);
    QCOMPARE(y[1], 2.f);
    QCOMPARE(y[2], 4.f);
    QCOMPARE(y[3], 0.f);
  }

  void zeroRowStaysZero() {
    const std::vector<float> x(16, 0.f);
    std::vector<float> y(16, 1.f), s(1);
    fake_quant_per_token_symmetric(Device::Cpu, x.data(), y.data(), s.data(), 1, 16, 8);
    for (float v : y) QCOMPARE(v, 0.f);
    QVERIFY(std::isfinite(s[0]));
  }

  void matchesScalarReference_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("cols");
    QTest::newRow("w8 small") << 8 << 3 << 17;
    QTest::newRow("w4 wide") << 4 << 64 << 4096;  // big enough to take the parallel path
    QTest::newRow("w2") << 2 << 5 << 33;
  }
  void matchesScalarReference() {
    QFETCH(int, bits);
    QFETCH(int, rows);
    QFETCH(int, cols);
    const auto x = random_rows(rows, cols, 7u + static_cast<unsigned>(bits));
    std::vector<float> y(x.size());
    fake_quant_per_token_symmetric(Device::Cpu, x.data(), y.data(), nullptr, rows, cols, bits);
    const double qmax = std::pow(2.0, bits - 1) - 1;
    for (int r = 0; r < rows; ++r) {
      double amax = 0;
      for (int c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(double(x[size_t(r * cols + c)])));
      const double scale = amax / qmax;
      for (int c = 0; c < cols; ++c) {
        const size_t i = size_t(r * cols + c);
        const double ref = std::nearbyint(double(x[i]) / scale) * scale;
        // The error is at most half a step, and float and double agree except on exact ties.
        QVERIFY(std::fabs(double(y[i]) - double(x[i])) <= scale / 2 + 1e-5);
        QVERIFY(std::fabs(double(y[i]) - ref) < 1e-4 || std::fabs(std::fabs(double(y[i]) - ref) - scale) < 1e-4);
      }
      // Each row uses at most 2*qmax+1 distinct levels.
      std::set<float> levels(y.begin() + r * cols, y.begin() + (r + 1) * cols);
      QVERIFY(levels.size() <= size_t(2 * qmax + 1));
    }
  }

  void rejectsBadBits() {
    float x = 1.f, y = 0.f;
    QVERIFY_THROWS_EXCEPTION(KernelError, fake_quant_per_token_symmetric(Device::Cpu, &x, &y, nullptr, 1, 1, 1));
    QVERIFY_THROWS_EXCEPTION(KernelError, fake_quant_per_token_symmetric(Device::Cpu, &x, &y, nullptr, 1, 1, 17));
  }

  void halfConversions() {
    QCOMPARE(fp32_to_fp16(1.f), uint16_t(0x3C00));
    QCOMPARE(fp32_to_fp16(65504.f), uint16_t(0x7BFF));
    QCOMPARE(fp32_to_fp16(-2.f), uint16_t(0xC000));
    QCOMPARE(fp32_to_fp16(1.f / 3), uint16_t(0x3555));
    QCOMPARE(fp32_to_fp16(2049.f), uint16_t(0x6800));  // a tie rounds to even: 2048
    QCOMPARE(fp32_to_fp16(2051.f), uint16_t(0x6802));  // and up to 2052
    QCOMPARE(fp32_to_fp16(1e-7f), uint16_t(0x0002));   // subnormal
    for (float f : {0.f, 1.f, -3.5f, 0.000123f, 1000.25f}) QCOMPARE(fp16_to_fp32(fp32_to_fp16(fp16_to_fp32(fp32_to_fp16(f)))), fp16_to_fp32(fp32_to_fp16(f)));
  }

  void weightGridsByHand() {
    // Asymmetric 2 bits over [-1, 2]: scale 1, zero 1: -1, 0, 1, 2 are exact.
    const std::vector<float> w = {-1.f, 0.4f, 1.6f, 2.f};
    std::vector<float> y(4), s(1), z(1);
    std::vector<int32_t> q(4);
    fake_quant_weight(Device::Cpu, w.data(), y.data(), 1, 4, {2, GridKind::Asymmetric, 0}, nullptr, q.data(), s.data(), z.data());
    QCOMPARE(s[0], 1.f);
    QCOMPARE(z[0], 1.f);
    QCOMPARE(q, (std::vector<int32_t>{0, 1, 3, 3}));
    QCOMPARE(y, (std::vector<float>{-1.f, 0.f, 2.f, 2.f}));
    // Clipping to half the range: [-0.5, 1], scale 0.5, zero 1.
    const float clip = 0.5f;
    fake_quant_weight(Device::Cpu, w.data(), y.data(), 1, 4, {2, GridKind::Asymmetric, 0}, &clip, q.data(), s.data(), z.data());
    QCOMPARE(s[0], 0.5f);
    QCOMPARE(y, (std::vector<float>{-0.5f, 0.5f, 1.f, 1.f}));
    // Symmetric 4 bits, two groups of two: scales 1/7 and 4/7.
    const std::vector<float> w2 = {1.f, -0.6f, 4.f, 1.f};
    fake_quant_weight(Device::Cpu, w2.data(), y.data(), 1, 4, {4, GridKind::Symmetric, 2}, nullptr, q.data(), nullptr, nullptr);
    QCOMPARE(q, (std::vector<int32_t>{7, -4, 7, 2}));  // -4.2 -> -4, 1.75 -> 2
  }

  void ggufBlocksMatchLlamaCpp() {
    // llama.cpp's reference rules, written out here from ggml's quantize_row_q8_0/q4_0_ref.
    std::mt19937 gen(11);
    std::normal_distribution<float> dist(0.f, 0.3f);
    std::vector<float> x(64);
    for (float& v : x) v = dist(gen);
    x[5] = 0.f;
    std::vector<float> y(64), s(2);
    std::vector<int32_t> q(64);
    fake_quant_weight(Device::Cpu, x.data(), y.data(), 1, 64, {8, GridKind::GgufQ8_0, 32}, nullptr, q.data(), s.data(), nullptr);
    for (int b = 0; b < 2; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[size_t(b * 32 + j)]));
      const float d = amax / 127, id = d ? 1.f / d : 0.f;
      const float dh = fp16_to_fp32(fp32_to_fp16(d));
      QCOMPARE(s[size_t(b)], dh);
      for (int j = 0; j < 32; ++j) {
        const int8_t code = int8_t(std::round(x[size_t(b * 32 + j)] * id));
        QCOMPARE(q[size_t(b * 32 + j)], int32_t(code));
        QCOMPARE(y[size_t(b * 32 + j)], float(code) * dh);
      }
    }
    fake_quant_weight(Device::Cpu, x.data(), y.data(), 1, 64, {4, GridKind::GgufQ4_0, 32}, nullptr, q.data(), s.data(), nullptr);
    for (int b = 0; b < 2; ++b) {
      float amax = 0, max = 0;
      for (int j = 0; j < 32; ++j) {
        const float v = x[size_t(b * 32 + j)];
        if (amax < std::fabs(v)) amax = std::fabs(v), max = v;
      }
      const float d = max / -8, id = d ? 1.f / d : 0.f;
      const float dh = fp16_to_fp32(fp32_to_fp16(d));
      for (int j = 0; j < 32; ++j) {
        const uint8_t code = uint8_t(std::min(15, int(int8_t(x[size_t(b * 32 + j)] * id + 8.5f))));
        QCOMPARE(q[size_t(b * 32 + j)], int32_t(code));
        QCOMPARE(y[size_t(b * 32 + j)], (float(code) - 8.f) * dh);
      }
    }
  }

  void cudaMatchesCpu() {
    const auto x = random_rows(32, 1000, 3), gy = random_rows(32, 1000, 4);
    std::vector<float> cpu(x.size()), s_cpu(32), wc(x.size()), clip(32 * 25, 0.9f), gw_cpu(x.size()), gc_cpu(clip.size());
    const WeightGridSpec spec{4, GridKind::Asymmetric, 40};
    fake_quant_per_token_symmetric(Device::Cpu, x.data(), cpu.data(), s_cpu.data(), 32, 1000, 4);
    fake_quant_weight(Device::Cpu, x.data(), wc.data(), 32, 1000, spec, clip.data(), nullptr, nullptr, nullptr);
    fake_quant_weight_ste_backward(Device::Cpu, x.data(), gy.data(), clip.data(), gw_cpu.data(), gc_cpu.data(), 32, 1000, spec);
    if (cuda_device_count() == 0) {
      // The same entry point refuses the device, saying why, before touching the pointers.
      const QString why = cuda_compiled() ? "no CUDA device available" : "this build of SafeQuant has no CUDA kernels";
      try {
        fake_quant_per_token_symmetric(Device::Cuda, x.data(), cpu.data(), nullptr, 32, 1000, 4);
        QFAIL("Device::Cuda ran without a device");
      } catch (const KernelError& e) {
        QVERIFY2(QString(e.what()).contains(why), e.what());
      }
      QVERIFY_THROWS_EXCEPTION(KernelError, CudaBuffer(16));
      QSKIP(cuda_compiled() ? "CUDA kernels built, but no CUDA device here" : "built without CUDA");
    }
    const size_t bytes = x.size() * sizeof(float);
    CudaBuffer dx(bytes), dy(bytes), ds(32 * sizeof(float)), dgy(bytes), dclip(clip.size() * sizeof(float)), dgw(bytes),
        dgc(clip.size() * sizeof(float));
    dx.upload(x.data()), dgy.upload(gy.data()), dclip.upload(clip.data());
    std::vector<float> gpu(x.size()), s_gpu(32), wg(x.size()), gw_gpu(x.size()), gc_gpu(clip.size());
    fake_quant_per_token_symmetric(Device::Cuda, dx.as<float>(), dy.as<float>(), ds.as<float>(), 32, 1000, 4);
    dy.download(gpu.data()), ds.download(s_gpu.data());
    QCOMPARE(s_gpu, s_cpu);
    QCOMPARE(gpu, cpu);
    fake_quant_weight(Device::Cuda, dx.as<float>(), dy.as<float>(), 32, 1000, spec, dclip.as<float>(), nullptr, nullptr, nullptr);
    dy.download(wg.data());
    QCOMPARE(wg, wc);
    // The straight-through backward: same per-group math, so the same bits.
    fake_quant_weight_ste_backward(Device::Cuda, dx.as<float>(), dgy.as<float>(), dclip.as<float>(), dgw.as<float>(), dgc.as<float>(),
                                   32, 1000, spec);
    dgw.download(gw_gpu.data()), dgc.download(gc_gpu.data());
    QCOMPARE(gw_gpu, gw_cpu);
    QCOMPARE(gc_gpu, gc_cpu);
  }

  void packedMatmulMatchesFakeQuant_data() {
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("cols");
    QTest::addColumn<int>("group");
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("kind");
    QTest::newRow("w4 sym g32") << 17 << 64 << 32 << 4 << int(GridKind::Symmetric);
    QTest::newRow("w4 asym g128") << 9 << 256 << 128 << 4 << int(GridKind::Asymmetric);
    QTest::newRow("w4 asym per channel") << 5 << 96 << 96 << 4 << int(GridKind::Asymmetric);
    QTest::newRow("w4 sym per channel, 5 blocks") << 6 << 160 << 160 << 4 << int(GridKind::Symmetric);
    QTest::newRow("w4 asym g256") << 5 << 512 << 256 << 4 << int(GridKind::Asymmetric);
    QTest::newRow("w4 asym g96") << 4 << 384 << 96 << 4 << int(GridKind::Asymmetric);
    QTest::newRow("w3 asym g64") << 6 << 128 << 64 << 3 << int(GridKind::Asymmetric);
    QTest::newRow("w2 sym g32") << 3 << 64 << 32 << 2 << int(GridKind::Symmetric);
    QTest::newRow("w8 sym per channel") << 7 << 160 << 160 << 8 << int(GridKind::Symmetric);
    QTest::newRow("w8 asym g32") << 11 << 96 << 32 << 8 << int(GridKind::Asymmetric);
    QTest::newRow("w6 sym g64") << 4 << 192 << 64 << 6 << int(GridKind::Symmetric);
    QTest::newRow("w5 asym g64") << 4 << 128 << 64 << 5 << int(GridKind::Asymmetric);
    QTest::newRow("q4_0") << 13 << 128 << 32 << 4 << int(GridKind::GgufQ4_0);
    QTest::newRow("q8_0") << 13 << 128 << 32 << 8 << int(GridKind::GgufQ8_0);
    QTest::newRow("wide, parallel rows") << 300 << 1024 << 128 << 4 << int(GridKind::Asymmetric);
  }
  // Weight-only and integer products on packed codes give what the fake-quantized floating-point
  // model computes, within float rounding, on every CPU path this processor has and for 1 to 9
  // tokens (whole tiles and remainders).
  void packedMatmulMatchesFakeQuant() {
    QFETCH(int, rows);
    QFETCH(int, cols);
    QFETCH(int, group);
    QFETCH(int, bits);
    QFETCH(int, kind);
    const Packed p = packed(rows, cols, group, bits, GridKind(kind), unsigned(rows * 31 + cols + bits));
    const PackedWeights w = p.view(rows, cols, group);
    std::vector<float> rows_back(size_t((rows - 1) * cols));
    packed_dequantize(Device::Cpu, w, 1, rows - 1, rows_back.data());
    QVERIFY(std::equal(rows_back.begin(), rows_back.end(), p.dequant.begin() + cols));  // the same floats
    for (int64_t n : {1, 2, 3, 4, 5, 9}) {
      const auto x = random_rows(n, cols, unsigned(n + 100));
      std::vector<double> want, magnitude;
      reference(x, p.dequant, n, rows, cols, want, magnitude);
      for (CpuPath path : kPackedPaths) {
        std::vector<float> y(size_t(n * rows), NAN);
        packed_matmul(Device::Cpu, w, x.data(), y.data(), n, path);
        expectClose(y, want, magnitude, qPrintable(QString("weight-only, %1").arg(cpu_path_name(path))));
      }
      for (int act_bits : {8, 4}) {
        std::vector<float> xq(x.size());
        fake_quant_per_token_symmetric(Device::Cpu, x.data(), xq.data(), nullptr, n, cols, act_bits);
        reference(xq, p.dequant, n, rows, cols, want, magnitude);
        for (CpuPath path : kPackedPaths) {
          std::vector<float> y(size_t(n * rows), NAN);
          packed_matmul_int(Device::Cpu, w, x.data(), y.data(), n, act_bits, path);
          expectClose(y, want, magnitude, qPrintable(QString("integer, %1").arg(cpu_path_name(path))));
        }
      }
    }
  }

  // Nibbles sit as llama.cpp's Q4_0 puts them; shapes without a packed layout are declined;
  // codes off the grid and bad arguments are refused.
  void packedLayoutAndRefusals() {
    std::vector<int32_t> codes(64);
    for (int c = 0; c < 64; ++c) codes[size_t(c)] = c % 16;
    const std::vector<float> scales = {1.f, 1.f}, zeros = {8.f, 8.f};
    PackedHost h;
    QVERIFY(pack_weights(codes.data(), scales.data(), zeros.data(), 1, 64, 32, 4, GridKind::GgufQ4_0, h));
    QCOMPARE(int(h.codes.size()), 32);
    QCOMPARE(int(h.codes[0]), 0 | (0 << 4));   // column 0 low, column 16 high
    QCOMPARE(int(h.codes[5]), 5 | (5 << 4));   // columns 5 and 21
    for (int c = 0; c < 64; ++c) QCOMPARE(packed_code(h.codes.data(), c, 4), codes[size_t(c)]);
    QVERIFY(!pack_weights(codes.data(), scales.data(), zeros.data(), 1, 48, 48, 4, GridKind::Asymmetric, h));  // 48 columns
    const std::vector<float> half_zero = {7.5f, 8.f};
    QVERIFY(!pack_weights(codes.data(), scales.data(), half_zero.data(), 1, 64, 32, 4, GridKind::Asymmetric, h));
    codes[3] = 16;
    QVERIFY_THROWS_EXCEPTION(KernelError, pack_weights(codes.data(), scales.data(), zeros.data(), 1, 64, 32, 4, GridKind::Asymmetric, h));
    const Packed p = packed(2, 64, 32, 4, GridKind::Asymmetric, 5);
    PackedWeights bad = p.view(2, 64, 32);
    bad.group = 48;
    std::vector<float> x(64, 1.f), y(2);
    QVERIFY_THROWS_EXCEPTION(KernelError, packed_matmul(Device::Cpu, bad, x.data(), y.data(), 1));
    QVERIFY_THROWS_EXCEPTION(KernelError, packed_matmul_int(Device::Cpu, p.view(2, 64, 32), x.data(), y.data(), 1, 9));
  }

  // An infinite or NaN activation reaches every output it touches on every path, as in the
  // float product, rather than vanishing in a fixed-point or integer conversion.
  void nonFiniteActivationsStayNonFinite() {
    const Packed p = packed(3, 256, 128, 4, GridKind::Asymmetric, 11);
    const PackedWeights w = p.view(3, 256, 128);
    for (float bad : {INFINITY, NAN}) {
      auto x = random_rows(2, 256, 5);
      x[200] = bad;  // token 0, the second group
      for (CpuPath path : kPackedPaths) {
        std::vector<float> y(6, 0.f);
        packed_matmul(Device::Cpu, w, x.data(), y.data(), 2, path);
        for (int r = 0; r < 3; ++r) {
          QVERIFY2(!std::isfinite(y[size_t(r)]), cpu_path_name(path));
          QVERIFY2(std::isfinite(y[size_t(3 + r)]), cpu_path_name(path));  // token 1 is untouched
        }
      }
    }
  }

  // Half-precision weights: the same sums as an fp32 copy on every CPU path, for widths that are
  // and are not multiples of 32 (and odd), from one token to a prefill's many (the panels past
  // 12 and 32 tokens). Where the best path multiplies bf16 weights with bf16 dot products, the
  // sums are those of the activations rounded to bf16, to nearest even, ties included, for a
  // decode step's few tokens as for a prompt's many.
  void halfMatmulMatchesWidened() {
    const auto to_bf16 = [](float f) {
      uint32_t u;
      std::memcpy(&u, &f, 4);
      const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
      float r;
      std::memcpy(&r, &rounded, 4);
      return r;
    };
    for (HalfKind kind : {HalfKind::F16, HalfKind::BF16})
      for (int64_t cols : {32, 45, 768}) {
        const int64_t rows = 37;
        const auto wf = random_rows(rows, cols, unsigned(cols));
        std::vector<uint16_t> w(wf.size());
        std::vector<float> widened(wf.size()), back(wf.size());
        for (size_t i = 0; i < w.size(); ++i) {
          uint32_t bits;
          std::memcpy(&bits, &wf[i], 4);
          w[i] = kind == HalfKind::F16 ? fp32_to_fp16(wf[i]) : uint16_t(bits >> 16);
          widened[i] = half_to_fp32(w[i], kind);
        }
        half_to_float(Device::Cpu, kind, w.data(), back.data(), int64_t(w.size()));
        QCOMPARE(back, widened);
        for (int64_t n : {1, 3, 4, 9, 12, 13, 40}) {
          auto x = random_rows(n, cols, unsigned(n));
          x[0] = 1.f + 1.f / 256;       // halfway between two bf16 values: to the even one, 1
          x[size_t(cols - 1)] = 1.f + 3.f / 256;  // halfway again: up, to 1 + 1/64
          std::vector<float> rounded(x.size());
          for (size_t i = 0; i < x.size(); ++i) rounded[i] = to_bf16(x[i]);
          QCOMPARE(rounded[0], 1.f);
          QCOMPARE(rounded[size_t(cols - 1)], 1.f + 1.f / 64);
          for (CpuPath path : {CpuPath::Best, CpuPath::Avx2, CpuPath::Portable}) {
            const bool bf16_dot = half_matmul_rounds_to_bf16(kind, path);
            std::vector<double> want, magnitude;
            reference(bf16_dot ? rounded : x, widened, n, rows, cols, want, magnitude);
            std::vector<float> y(size_t(n * rows), NAN);
            half_matmul(Device::Cpu, kind, w.data(), x.data(), y.data(), rows, cols, n, path);
            expectClose(y, want, magnitude, qPrintable(QString("%1 weights, %2 columns, %3 tokens, %4%5")
                                                          .arg(kind == HalfKind::F16 ? "fp16" : "bf16")
                                                          .arg(cols)
                                                          .arg(n)
                                                          .arg(cpu_path_name(path))
                                                          .arg(bf16_dot ? " (bf16 dot products)" : "")));
          }
        }
      }
    QVERIFY(!half_matmul_rounds_to_bf16(HalfKind::F16, CpuPath::Best));
    QVERIFY(!half_matmul_rounds_to_bf16(HalfKind::BF16, CpuPath::Avx2));
    const std::vector<uint16_t> w(64, 0);
    std::vector<float> x(64), y(1);
    if (cuda_device_count() == 0)
      QVERIFY_THROWS_EXCEPTION(KernelError, half_matmul(Device::Cuda, HalfKind::BF16, w.data(), x.data(), y.data(), 1, 64, 1));
  }

  // The many-token product over decoded panels: token counts and row counts around the tiles'
  // 6 and 12 tokens and the panels' 16 and 32 rows, against double; every row decoded exactly once.
  void panelGemmMatchesReference() {
    for (int64_t rows : {1, 15, 16, 17, 31, 32, 33, 70})
      for (int64_t cols : {1, 32, 45}) {
        const auto w = random_rows(rows, cols, unsigned(rows * 100 + cols));
        for (int64_t n : {1, 5, 6, 7, 12, 13, 32, 45}) {
          const auto x = random_rows(n, cols, unsigned(n));
          std::vector<double> want, magnitude;
          reference(x, w, n, rows, cols, want, magnitude);
          std::vector<float> avx2;
          for (CpuPath path : {CpuPath::Avx2, CpuPath::Best, CpuPath::Portable}) {
            std::vector<float> y(size_t(n * rows), NAN);
            std::vector<std::atomic<int>> decoded(static_cast<size_t>(rows));
            panel_gemm(x.data(), y.data(), n, rows, cols, [&](int64_t r0, int64_t m, float* out) {
              for (int64_t i = 0; i < m; ++i) decoded[size_t(r0 + i)]++;
              std::copy(w.begin() + r0 * cols, w.begin() + (r0 + m) * cols, out);
            }, path);
            expectClose(y, want, magnitude, "panel product");
            for (const auto& d : decoded) QCOMPARE(d.load(), 1);
            // AVX-512's wider panels sum each row in the same order: the same bits, so that a
            // run's figures do not depend on the processor's vector width.
            if (path == CpuPath::Avx2) avx2 = y;
            if (path == CpuPath::Best && cpu_vectorized()) QVERIFY(std::memcmp(y.data(), avx2.data(), y.size() * sizeof(float)) == 0);
          }
        }
      }
    float x = 1, y = 0;
    QVERIFY_THROWS_EXCEPTION(KernelError, panel_gemm(&x, &y, -1, 1, 1, [](int64_t, int64_t, float*) {}));
    QVERIFY_THROWS_EXCEPTION(KernelError, panel_gemm(&x, &y, 1, 1, 1, nullptr));
  }

  // The fast transform against Sylvester's matrix built by its definition, in double.
  void hadamardMatchesSylvester() {
    for (int64_t n : {1, 2, 8, 64, 512}) {
      std::vector<std::vector<double>> h{{1.0}};
      while (int64_t(h.size()) < n) {
        const size_t m = h.size();
        std::vector<std::vector<double>> next(2 * m, std::vector<double>(2 * m));
        for (size_t i = 0; i < m; ++i)
          for (size_t j = 0; j < m; ++j)
            next[i][j] = next[i][j + m] = next[i + m][j] = h[i][j], next[i + m][j + m] = -h[i][j];
        h = next;
      }
      const int64_t rows = 3;
      auto x = random_rows(rows, n, unsigned(n));
      const auto original = x;
      const float scale = 1.f / std::sqrt(float(n));
      hadamard_transform(Device::Cpu, x.data(), rows, n, scale);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < n; ++c) {
          double want = 0, magnitude = 0;
          for (int64_t k = 0; k < n; ++k)
            want += original[size_t(r * n + k)] * h[size_t(k)][size_t(c)], magnitude += std::fabs(original[size_t(r * n + k)]);
          want *= scale;
          QVERIFY2(std::fabs(x[size_t(r * n + c)] - want) <= 1e-6 * magnitude * scale + 1e-7,
                   qPrintable(QString("n %1, row %2, column %3: %4 vs %5").arg(n).arg(r).arg(c).arg(x[size_t(r * n + c)]).arg(want)));
        }
    }
    std::vector<float> x(12);
    QVERIFY_THROWS_EXCEPTION(KernelError, hadamard_transform(Device::Cpu, x.data(), 1, 12, 1.f));
    if (cuda_device_count() == 0) {
      QVERIFY_THROWS_EXCEPTION(KernelError, hadamard_transform(Device::Cuda, x.data(), 1, 8, 1.f));
      return;
    }
    const auto y = random_rows(5, 1024, 2);
    std::vector<float> cpu = y, gpu(y.size());
    hadamard_transform(Device::Cpu, cpu.data(), 5, 1024, 0.5f);
    CudaBuffer d(y.size() * 4);
    d.upload(y.data());
    hadamard_transform(Device::Cuda, d.as<float>(), 5, 1024, 0.5f);
    d.download(gpu.data());
    QCOMPARE(gpu, cpu);  // the same butterflies in the same order per element
  }

  void packedCudaMatchesCpu() {
    const Packed p = packed(70, 256, 64, 4, GridKind::Asymmetric, 9);
    const PackedWeights w = p.view(70, 256, 64);
    const auto x = random_rows(5, 256, 10);
    std::vector<float> cpu(5 * 70), cpu_int(5 * 70);
    packed_matmul(Device::Cpu, w, x.data(), cpu.data(), 5, CpuPath::Portable);
    packed_matmul_int(Device::Cpu, w, x.data(), cpu_int.data(), 5, 8, CpuPath::Portable);
    if (cuda_device_count() == 0) {
      QVERIFY_THROWS_EXCEPTION(KernelError, packed_matmul(Device::Cuda, w, x.data(), cpu.data(), 5));
      QSKIP(cuda_compiled() ? "CUDA kernels built, but no CUDA device here" : "built without CUDA");
    }
    CudaBuffer codes(p.host.codes.size()), scales(p.host.scales.size() * 4), zeros(p.host.zeros.size() * 4), dx(x.size() * 4),
        dy(cpu.size() * 4);
    codes.upload(p.host.codes.data()), scales.upload(p.host.scales.data()), zeros.upload(p.host.zeros.data()), dx.upload(x.data());
    const PackedWeights dw{70, 256, 64, p.host.bits, codes.as<uint8_t>(), scales.as<float>(), zeros.as<float>()};
    std::vector<float> gpu(cpu.size());
    packed_matmul(Device::Cuda, dw, dx.as<float>(), dy.as<float>(), 5);
    dy.download(gpu.data());
    for (size_t i = 0; i < gpu.size(); ++i) QVERIFY(std::fabs(gpu[i] - cpu[i]) <= 1e-4f * (1.f + std::fabs(cpu[i])));
    packed_matmul_int(Device::Cuda, dw, dx.as<float>(), dy.as<float>(), 5, 8);
    dy.download(gpu.data());
    for (size_t i = 0; i < gpu.size(); ++i) QVERIFY(std::fabs(gpu[i] - cpu_int[i]) <= 1e-4f * (1.f + std::fabs(cpu_int[i])));
  }

  // Straight-through backward by hand on one symmetric 4-bit group: unclamped values pass their
  // gradient; the scale's gradient sum(g * (round(u) - u)) goes to the clip factor and to max|w|.
  void straightThroughBackwardByHand() {
    const std::vector<float> w = {0.7f, -0.35f, 0.2f, 0.0f}, gy = {1.f, 1.f, 1.f, 1.f};
    float gw[4], gclip;
    fake_quant_weight_ste_backward(Device::Cpu, w.data(), gy.data(), std::vector<float>{1.f}.data(), gw, &gclip, 1, 4, {4, GridKind::Symmetric, 4});
    const float s = 0.7f / 7.f;  // qmax 7
    float g_s = 0.f;
    for (float v : w) g_s += std::rint(v / s) - v / s;
    QCOMPARE(gw[1], 1.f);
    QCOMPARE(gw[2], 1.f);
    QVERIFY(std::abs(gw[0] - (1.f + g_s / 7.f)) < 1e-6f);  // max |w| also receives the range's gradient
    QVERIFY(std::abs(gclip - g_s * 0.7f / 7.f) < 1e-6f);
    QVERIFY_THROWS_EXCEPTION(KernelError,
                             fake_quant_weight_ste_backward(Device::Cpu, w.data(), gy.data(), &gclip, gw, &gclip, 1, 4, {8, GridKind::GgufQ8_0, 4}));
  }
};

QTEST_GUILESS_MAIN(TstKernels)
#include "tst_kernels.moc"
