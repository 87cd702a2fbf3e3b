// Quantization: schemes, GPTQ against round-to-nearest on a layer's output error, a Hessian that
// is not positive definite, run folders written and read back (bit-exact GGUF grids included),
// fake-quant execution on the tiny zoo, cancellation, and the quantize command's errors.
#include <QImage>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/data/calibration.h"
#include "core/error.h"
#include "core/experiment/efficacy.h"
#include "core/experiment/run_pipeline.h"
#include "core/io/json_file.h"
#include "core/io/manifest.h"
#include "core/model/llama.h"
#include "core/model/model.h"
#include "core/model/prompt_encoding.h"
#include "core/probe/probe_run.h"
#include "core/experiment/run_config.h"
#include "core/experiment/sweep.h"
#include "core/experiment/sweep_table.h"
#include "core/quant/aaq.h"
#include "core/quant/gptq.h"
#include "core/quant/lwc.h"
#include "core/quant/quantizer.h"
#include "core/quant/rotation.h"
#include "core/quant/smoothing.h"
#include "core/quantized/run_folder.h"
#include "core/quantized/run_record.h"
#include "core/run/allocator.h"
#include "tests/cli_runner.h"
#include "tests/error_text.h"
#include "tests/logit_diff.h"
#include "tests/tiny_model.h"

namespace {

const std::string kZoo = SQ_BINARY_DIR "/zoo-tiny";

// Prompts as the model reads them, each cut to its last tokens when it runs past the context (one
// of the tiny zoo's calibration prompts does).
std::vector<std::vector<int32_t>> encoded_within_context(const sq::Model& m, const std::vector<sq::Prompt>& prompts) {
  std::vector<std::vector<int32_t>> encoded = sq::encode_prompts(m, prompts, sq::ChatSettings{});
  sq::keep_last_tokens(encoded, size_t(m.config().max_position_embeddings));
  return encoded;
}

// Mean squared difference of the last block's output (last prompt token) between a run and the
// full-precision capture `ref`.
double last_block_drift(const std::string& model, const std::string& run, const std::vector<std::vector<int32_t>>& prompts,
                        const sq::Activations& ref) {
  const sq::Activations a = sq::Model::load(model, run)->capture(prompts, {});
  double e = 0;
  const auto& x = a.last.at("layer.1");
  const auto& y = ref.last.at("layer.1");
  for (size_t k = 0; k < x.size(); ++k) e += double(x[k] - y[k]) * double(x[k] - y[k]);
  return e / double(x.size());
}


}  // namespace

class TstQuant : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() {
    sq::keep_freed_memory();  // as the executables do
    torch::set_num_threads(2);
  }

  void schemes() {
    auto s = sq::parse_scheme("w8a8");
    QCOMPARE(s.w_bits, 8);
    QCOMPARE(s.a_bits, 8);
    QCOMPARE(s.group, int64_t(0));
    QVERIFY(s.w_kind == sq::kernels::GridKind::Asymmetric);
    s = sq::parse_scheme("w4a16");
    QCOMPARE(s.group, int64_t(128));
    QVERIFY(s.w_kind == sq::kernels::GridKind::Symmetric);
    s = sq::parse_scheme("w4a4");
    QVERIFY(s.w_kind == sq::kernels::GridKind::Symmetric);
    s = sq::parse_scheme("w4a4kv4");  // AAQ's W4A4KV4
    QCOMPARE(s.kv_bits, 4);
    QCOMPARE(s.a_bits, 4);
    QVERIFY(s.w_kind == sq::kernels::GridKind::Symmetric);
    QCOMPARE(sq::scheme_from_json(sq::to_json(s)).kv_bits, 4);
    QCOMPARE(sq::parse_scheme("w8a8kv8-g128").kv_bits, 8);
    QCOMPARE(sq::parse_scheme("w8a8").kv_bits, 16);
    QCOMPARE(s.q_bits, 16);  // AAQ's KV cache leaves the queries alone
    // The OmniQuant family (LWC, Q-realign) quantizes queries, keys and values at the activation
    // bits unless the scheme names its own attention bits.
    s = sq::with_attention_at_activation_bits(sq::parse_scheme("w4a4"));
    QVERIFY(s.q_bits == 4 && s.kv_bits == 4 && s.name == "w4a4+qkv4");
    QCOMPARE(sq::scheme_from_json(sq::to_json(s)).q_bits, 4);
    s = sq::with_attention_at_activation_bits(sq::parse_scheme("w4a4kv16"));
    QVERIFY(s.q_bits == 16 && s.kv_bits == 16 && s.name == "w4a4kv16");
    QCOMPARE(sq::with_attention_at_activation_bits(sq::parse_scheme("w4a16")).q_bits, 16);
    s = sq::parse_scheme("w8a8qkv4-g64");
    QVERIFY(s.q_bits == 4 && s.kv_bits == 4 && s.group == 64);
    QCOMPARE(sq::parse_scheme("w4a6-asym").a_bits, 6);  // the bit ladder's middle rung
    QVERIFY_THROWS_EXCEPTION(sq::Error, sq::parse_scheme("w4a5"));
    s = sq::parse_scheme("w3a16-g64-sym");
    QCOMPARE(s.w_bits, 3);
    QCOMPARE(s.group, int64_t(64));
    s = sq::parse_scheme("gguf-q4_0");
    QVERIFY(s.gguf_exact() && s.group == 32);
    QCOMPARE(sq::scheme_from_json(sq::to_json(s)).w_kind, s.w_kind);
    QVERIFY(errorOf([] { sq::parse_scheme("w9a8"); }).contains("unknown scheme 'w9a8' (presets: w8a8, w4a4, w4a4kv4,"));
    for (const std::string& preset : sq::scheme_presets()) QCOMPARE(sq::parse_scheme(preset).name, preset);
  }

  void gptqBeatsRoundToNearest_data() {
    QTest::addColumn<QString>("scheme");
    QTest::newRow("w4 per-channel") << "w4a16-asym";
    QTest::newRow("w3 groups of 32") << "w3a16-g32-asym";
    QTest::newRow("w4 symmetric") << "w4a16-sym";
    QTest::newRow("gguf q4_0") << "gguf-q4_0";
  }
  void gptqBeatsRoundToNearest() {
    QFETCH(QString, scheme);
    const sq::QuantScheme s = sq::parse_scheme(scheme.toStdString());
    torch::manual_seed(1);
    // Correlated inputs, as activations are: a low-rank mix plus noise.
    const torch::Tensor X = torch::matmul(torch::randn({1024, 16}), torch::randn({16, 128})) + 0.1 * torch::randn({1024, 128});
    const torch::Tensor W = torch::randn({96, 128}) * 0.1;
    sq::HessianAccumulator acc(128, torch::kCPU);
    acc.add(X.narrow(0, 0, 512));
    acc.add(X.narrow(0, 512, 512));
    QCOMPARE(acc.samples(), int64_t(1024));
    const auto g = sq::gptq_quantize(W, acc.hessian(), s, {});
    const auto r = sq::quantize_weight(W, s);
    const double e_gptq = (torch::matmul(X, (W - g.weight.dequant).t())).pow(2).mean().item<double>();
    const double e_rtn = (torch::matmul(X, (W - r.dequant).t())).pow(2).mean().item<double>();
    qInfo("%s: layer output MSE gptq %.3e, rtn %.3e", qPrintable(scheme), e_gptq, e_rtn);
    QVERIFY(e_gptq < 0.8 * e_rtn);
    // Every value GPTQ produced sits on the scheme's grid: re-deriving it from its code gives it back.
    const torch::Tensor again = ((g.weight.codes.to(torch::kFloat32).view({96, -1, sq::group_width(s, 96, 128)}) -
                                  g.weight.zeros.unsqueeze(-1)) * g.weight.scales.unsqueeze(-1)).view({96, 128});
    QVERIFY(torch::equal(again, g.weight.dequant));
  }

  // GPTQ in fp32 (the default, as the reference code) against fp64 on the same correlated inputs:
  // the same layer-output error within a percent, and almost every code the same.
  void gptqInFloat32AgreesWithFloat64() {
    torch::manual_seed(2);
    const torch::Tensor X = torch::matmul(torch::randn({2048, 32}), torch::randn({32, 256})) + 0.05 * torch::randn({2048, 256});
    const torch::Tensor W = torch::randn({128, 256}) * 0.1;
    for (const char* scheme : {"w4a16-asym", "w3a16-g32-asym"}) {
      const sq::QuantScheme s = sq::parse_scheme(scheme);
      sq::HessianAccumulator h32(256, torch::kCPU), h64(256, torch::kCPU, torch::kFloat64);
      h32.add(X);
      h64.add(X);
      QCOMPARE(h32.hessian().scalar_type(), torch::kFloat32);
      const auto g32 = sq::gptq_quantize(W, h32.hessian(), s, {}), g64 = sq::gptq_quantize(W, h64.hessian(), s, {});
      QCOMPARE(g32.weight.dequant.scalar_type(), torch::kFloat32);
      auto mse = [&](const sq::GptqResult& g) { return torch::matmul(X, (W - g.weight.dequant).t()).pow(2).mean().item<double>(); };
      const double e32 = mse(g32), e64 = mse(g64);
      const double differ = g32.weight.codes.ne(g64.weight.codes).to(torch::kFloat64).mean().item<double>();
      qInfo("%s: layer output MSE fp32 %.4e, fp64 %.4e; codes differing %.3f %%", scheme, e32, e64, 100 * differ);
      QVERIFY(std::fabs(e32 - e64) <= 0.01 * e64);
      QVERIFY(differ < 0.01);
    }
  }

  // The kernels' straight-through backward against the same function written in torch ops and
  // differentiated by autograd (OmniQuant's formulation).
  void straightThroughBackwardMatchesAutograd_data() {
    QTest::addColumn<QString>("scheme");
    QTest::newRow("asymmetric per channel") << "w4a16-asym";
    QTest::newRow("symmetric groups of 32") << "w3a16-g32-sym";
    QTest::newRow("asymmetric per tensor") << "w8a16-gt-asym";
  }
  void straightThroughBackwardMatchesAutograd() {
    QFETCH(QString, scheme);
    const sq::QuantScheme s = sq::parse_scheme(scheme.toStdString());
    torch::manual_seed(5);
    const int64_t rows = 8, cols = 64, g = sq::group_width(s, rows, cols);
    const int64_t krows = s.group < 0 ? 1 : rows, groups = (s.group < 0 ? rows * cols : cols) / g;
    auto reference = [&](const torch::Tensor& w, const torch::Tensor& clip) {
      auto round_ste = [](const torch::Tensor& x) { return x + (torch::round(x) - x).detach(); };
      const torch::Tensor wg = w.reshape({krows, -1, g}), c = clip.unsqueeze(-1);
      torch::Tensor out;
      if (s.w_kind == sq::kernels::GridKind::Asymmetric) {
        const double levels = double((1 << s.w_bits) - 1);
        const torch::Tensor hi = std::get<0>(wg.max(-1, true)) * c, lo = std::get<0>(wg.min(-1, true)) * c;
        const torch::Tensor scale = ((hi - lo) / levels).clamp_min(1e-8);
        const torch::Tensor zero = round_ste(-lo / scale);
        out = (torch::clamp(round_ste(wg / scale) + zero, 0, levels) - zero) * scale;
      } else {
        const double qmax = double((1 << (s.w_bits - 1)) - 1);
        const torch::Tensor scale = (wg.abs().amax(-1, true) * c / qmax).clamp_min(1e-8);
        out = torch::clamp(round_ste(wg / scale), -qmax, qmax) * scale;
      }
      return out.reshape({rows, cols});
    };
    const torch::Tensor w0 = torch::randn({rows, cols}), c0 = 0.6 + 0.4 * torch::rand({krows, groups}), gy = torch::randn({rows, cols});
    const torch::Tensor w1 = w0.clone().requires_grad_(true), c1 = c0.clone().requires_grad_(true);
    const torch::Tensor w2 = w0.clone().requires_grad_(true), c2 = c0.clone().requires_grad_(true);
    const torch::Tensor y1 = sq::fake_quant_weight_ste(w1, s, c1), y2 = reference(w2, c2);
    QVERIFY(torch::allclose(y1, y2, 1e-5, 1e-6));
    (y1 * gy).sum().backward();
    (y2 * gy).sum().backward();
    QVERIFY2(torch::allclose(w1.grad(), w2.grad(), 1e-4, 1e-5), qPrintable(QString::number((w1.grad() - w2.grad()).abs().max().item<double>())));
    QVERIFY2(torch::allclose(c1.grad(), c2.grad(), 1e-4, 1e-4), qPrintable(QString::number((c1.grad() - c2.grad()).abs().max().item<double>())));
    QVERIFY(c1.grad().abs().sum().item<double>() > 0);
  }

  void nonPositiveDefiniteHessian() {
    const torch::Tensor W = torch::randn({8, 16});
    torch::Tensor H = -torch::eye(16, torch::kFloat64);  // negative definite: no damping can fix it
    const auto g = sq::gptq_quantize(W, H, sq::parse_scheme("w4a16-asym"), {});
    QVERIFY(g.note.find("round-to-nearest") != std::string::npos);
    QVERIFY(torch::equal(g.weight.dequant, sq::quantize_weight(W, sq::parse_scheme("w4a16-asym")).dequant));
    // An all-zero Hessian (inputs that never fire) quantizes those columns to zero.
    const auto z = sq::gptq_quantize(W, torch::zeros({16, 16}, torch::kFloat64), sq::parse_scheme("w4a16-asym"), {});
    QVERIFY(z.weight.dequant.abs().max().item<float>() < 1e-6f);
  }

  void runFolderRoundTripsBitExact() {
    TinySpec spec;
    const std::string model = tmp_.filePath("m").toStdString();
    writeTinyModel(model, spec);
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme("gguf-q4_0");
    const std::string run = tmp_.filePath("run-q4").toStdString();
    sq::quantize_model(model, o, run);
    const sq::QuantRun r = sq::read_quant_run(run);
    QVERIFY(r.method == sq::QuantMethod::Rtn);
    const auto weights = sq::read_quant_weights(r);
    QCOMPARE(weights.size(), size_t(7 * spec.layers));
    const sq::Checkpoint ckpt(model);
    const std::string name = "model.layers.1.mlp.down_proj.weight";
    const auto direct = sq::quantize_weight(sq::as_tensor(ckpt.tensor(name)).to(torch::kFloat32), o.scheme);
    QVERIFY(torch::equal(weights.at(name), direct.dequant));  // what is stored is what was computed
    QVERIFY(!std::filesystem::exists(run + ".part-" + std::to_string(::getpid())));

    // A layer file whose scales do not fit its codes, or whose codes are not bytes, is refused by
    // file and tensor before anything reads past them (kernels and dequantization alike).
    const std::string broken = tmp_.filePath("run-broken").toStdString();
    std::filesystem::copy(run, broken, std::filesystem::copy_options::recursive);
    auto rewrite = [&](const torch::Tensor& codes, const torch::Tensor& scales, sq::DType code_type) {
      const std::string base = "model.layers.0.mlp.up_proj";
      std::vector<torch::Tensor> keep = {codes.contiguous(), scales.contiguous(), torch::zeros_like(scales).contiguous()};
      std::vector<sq::TensorData> t = {
          {base + ".codes", code_type, keep[0].sizes().vec(), keep[0].data_ptr(), size_t(keep[0].nbytes())},
          {base + ".scales", sq::DType::F32, keep[1].sizes().vec(), keep[1].data_ptr(), size_t(keep[1].nbytes())},
          {base + ".zeros", sq::DType::F32, keep[2].sizes().vec(), keep[2].data_ptr(), size_t(keep[2].nbytes())}};
      sq::write_safetensors(broken + "/quant/layer-0.safetensors", t);
      return errorOf([&] { sq::Model::load(model, broken); });
    };
    const int64_t up_rows = spec.intermediate, up_cols = spec.hidden;
    const QString few_rows = rewrite(torch::zeros({up_rows, up_cols}, torch::kUInt8), torch::ones({2, up_cols / 32}), sq::DType::U8);
    QVERIFY2(few_rows.contains("layer-0.safetensors") && few_rows.contains("do not fit its codes"), qPrintable(few_rows));
    const QString wide = rewrite(torch::zeros({up_rows, up_cols}, torch::kInt32), torch::ones({up_rows, 1}), sq::DType::I32);
    QVERIFY2(wide.contains("codes must be I8 or U8"), qPrintable(wide));
    // Codes that fit their scales but not the model, and model-wide tensors the model lacks or of
    // another shape or type, are refused by file and tensor too (globals are read first).
    const QString other = rewrite(torch::zeros({up_rows, up_cols + 32}, torch::kUInt8), torch::ones({up_rows, up_cols / 32 + 1}), sq::DType::U8);
    QVERIFY2(other.contains("layer-0.safetensors") && other.contains("where the model has [" + QString::number(up_rows)), qPrintable(other));
    auto rewrite_globals = [&](const std::string& name, const torch::Tensor& t, sq::DType type) {
      const torch::Tensor keep = t.contiguous();
      sq::write_safetensors(broken + "/quant/globals.safetensors", {{name, type, keep.sizes().vec(), keep.data_ptr(), size_t(keep.nbytes())}});
      return errorOf([&] { sq::Model::load(model, broken); });
    };
    const QString rotation = rewrite_globals(sq::kResidualRotation, torch::eye(2), sq::DType::F32);
    QVERIFY2(rotation.contains("globals.safetensors") && rotation.contains("'residual_rotation' is [2, 2] where the model has"), qPrintable(rotation));
    const QString integer = rewrite_globals("model.norm.weight", torch::ones({spec.hidden}, torch::kInt32), sq::DType::I32);
    QVERIFY2(integer.contains("'model.norm.weight' is I32"), qPrintable(integer));
    const QString unknown = rewrite_globals("model.extra.weight", torch::ones({4}), sq::DType::F32);
    QVERIFY2(unknown.contains("'model.extra.weight' is not a parameter of the model"), qPrintable(unknown));

    // run.json's owner writes back the same bytes it read.
    const std::string copy = tmp_.filePath("run-record").toStdString();
    std::filesystem::create_directories(copy);
    sq::write_run_record(copy, sq::read_run_record(run));
    auto slurp = [](const std::string& p) {
      std::ifstream in(p);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    QCOMPARE(slurp(copy + "/run.json"), slurp(run + "/run.json"));
    // A record with a key missing, of another type, or naming an unknown method is refused,
    // naming the file and the key.
    nlohmann::json j = nlohmann::json::parse(slurp(run + "/run.json"));
    auto refused = [&](const nlohmann::json& bad) {
      std::ofstream(copy + "/run.json") << bad.dump();
      return errorOf([&] { sq::read_run_record(copy); });
    };
    nlohmann::json bad = j;
    bad.erase("method");
    QVERIFY2(refused(bad).contains("run.json: no \"method\""), qPrintable(refused(bad)));
    bad = j, bad["layers"] = "two";
    QVERIFY2(refused(bad).contains("run.json: \"layers\": "), qPrintable(refused(bad)));
    bad = j, bad["method"] = "smoothquant";
    QVERIFY2(refused(bad).contains("unknown quantization method 'smoothquant' (rtn, gptq, lwc, q-realign or aaq)"), qPrintable(refused(bad)));
    bad = j, bad["calibration"]["composition"] = nlohmann::json::array({{{"label", "benign"}}});
    QVERIFY2(refused(bad).contains("run.json: no \"source\""), qPrintable(refused(bad)));
  }

  void methodTableDrivesDefaults() {
    // Every method round-trips through its name, and a front end starts from the table's defaults.
    for (const sq::QuantMethodInfo& m : sq::quant_methods()) QVERIFY(sq::parse_quant_method(m.name) == m.method);
    const sq::QuantizeOptions aaq = sq::QuantizeOptions::for_method(sq::QuantMethod::Aaq);
    QCOMPARE(aaq.lr, 0.002);
    QVERIFY(aaq.rotate);
    QCOMPARE(sq::QuantizeOptions::for_method(sq::QuantMethod::QRealign).lr, 0.05);
    QVERIFY(!sq::QuantizeOptions::for_method(sq::QuantMethod::Lwc).rotate);
    // The CLI's help lists what the table holds.
    const CliResult help = runCli({"quantize", "--help"});
    for (const sq::QuantMethodInfo& m : sq::quant_methods())
      QVERIFY2(help.out.contains(QString::fromLatin1(m.name) + ": " + QString::fromUtf8(m.summary)), m.name);
    QVERIFY(help.out.contains("aaq 0.002"));
  }

  void w8a8BarelyMovesTheZoo() {
    const std::string model = kZoo + "/aligned";
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme("w8a8");
    const std::string run = tmp_.filePath("run-w8a8").toStdString();
    sq::quantize_model(model, o, run);
    const auto fp = sq::Model::load(model), q = sq::Model::load(model, run);
    const auto tokens = fp->tokenizer().encode("<|im_start|>user\nHow do I bake bread?<|im_end|>\n<|im_start|>assistant\n");
    const auto a = fp->logits(tokens), b = q->logits(tokens);
    const double diff = max_abs_diff(a, b);
    double range = 0;
    int same = 0;
    for (size_t t = 0; t < a.size(); ++t) {
      const auto [lo, hi] = std::minmax_element(a[t].begin(), a[t].end());
      range = std::max(range, double(*hi - *lo));
      same += std::max_element(a[t].begin(), a[t].end()) == a[t].begin() + (std::max_element(b[t].begin(), b[t].end()) - b[t].begin());
    }
    qInfo("W8A8 on the tiny aligned model: max |dlogit| %.4f of a logit range %.2f; argmax kept at %d of %zu", diff, range,
          same, a.size());
    QVERIFY(diff < 0.05 * range);
    QVERIFY(same * 10 >= int(a.size()) * 9);
    // W2 moves them a lot more: the comparison is not vacuous.
    o.scheme = sq::parse_scheme("w2a16-asym");
    sq::quantize_model(model, o, tmp_.filePath("run-w2").toStdString());
    const auto c = sq::Model::load(model, tmp_.filePath("run-w2").toStdString())->logits(tokens);
    QVERIFY(max_abs_diff(a, c) > 4 * diff);
  }

  // A run computes on its packed codes (the quantized kernels) by default; its logits agree with
  // the fake-quantized floating-point model within float rounding, for weight-only and integer
  // schemes, per-tensor, per-channel and grouped, llama.cpp's blocks, and a rotated W4A4KV4 run.
  void kernelsMatchFakeQuant_data() {
    QTest::addColumn<QString>("scheme");
    QTest::addColumn<bool>("rotate");
    for (const char* s : {"w8a8", "w4a4", "w4a16-g64-sym", "w8a16", "w4a16-g32-asym", "w4a8-g64-sym", "w8a16-gt", "gguf-q4_0", "gguf-q8_0"})
      QTest::newRow(s) << QString(s) << false;
    QTest::newRow("w4a4kv4 rotated") << QString("w4a4kv4") << true;
    QTest::newRow("w8a16 rotated") << QString("w8a16") << true;
  }
  void kernelsMatchFakeQuant() {
    QFETCH(QString, scheme);
    QFETCH(bool, rotate);
    const std::string model = kZoo + "/aligned";
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme(scheme.toStdString());
    o.rotate = rotate;
    const std::string run = tmp_.filePath("run-kernels-" + scheme).toStdString() + (rotate ? "-rot" : "");
    sq::quantize_model(model, o, run);
    const auto on_codes = sq::Model::load(model, run), fake = sq::Model::load(model, run, false, {}, sq::QuantExecution::FakeQuant);
    QCOMPARE(on_codes->packed_linears(), std::make_pair(int64_t(14), int64_t(14)));  // 2 layers of 7
    QCOMPARE(fake->packed_linears().first, int64_t(0));
    const auto prompts = on_codes->tokenizer().encode("<|im_start|>user\nHow do I bake bread?<|im_end|>\n<|im_start|>assistant\n");
    // One pass over the prompt (few tokens: the kernels' own products) and the same prompt
    // repeated past 32 tokens (the path through dequantized slices).
    std::vector<int32_t> longer;
    while (longer.size() < 40) longer.insert(longer.end(), prompts.begin(), prompts.end());
    // An activation at a rounding tie takes either code on a float rounding, and both models'
    // positions change with the number of rows their matrix products see (format-5 tiny zoo,
    // w4a4kv4 rotated: the fake-quantized first position moves by 0.42 between 3 and 4 rows;
    // format-7 tiny zoo, w8a8: position 5 of 48 tokens, through the many-token path, 0.029 of a
    // range of 15.8 from both the 48- and the 6-token reference). A position off by more than float
    // rounding must then match the fake-quantized model's logits of the prompt cut after it, or,
    // at 8-bit activations, keep its greedy token within 1 % of the logit range (one code of 255
    // at a tie; a wrong kernel moves every position); at most one position in ten may move.
    for (const auto& tokens : {prompts, longer}) {
      const auto a = on_codes->logits(tokens), b = fake->logits(tokens);
      double range = 0;
      for (size_t t = 0; t < a.size(); ++t) {
        const auto [lo, hi] = std::minmax_element(b[t].begin(), b[t].end());
        range = std::max(range, double(*hi - *lo));
      }
      int moved = 0;
      for (size_t t = 0; t < a.size(); ++t) {
        double diff = max_abs_diff(a[t], b[t]);
        if (diff >= 1e-4 * range) {
          const bool same_token = std::max_element(a[t].begin(), a[t].end()) - a[t].begin() ==
                                  std::max_element(b[t].begin(), b[t].end()) - b[t].begin();
          const bool one_code = o.scheme.a_bits == 8 && same_token && diff < 1e-2 * range;
          diff = one_code ? 0.0
                          : max_abs_diff(a[t], fake->logits(std::vector<int32_t>(tokens.begin(), tokens.begin() + std::ptrdiff_t(t) + 1)).back());
          ++moved;
        }
        QVERIFY2(diff < 1e-4 * range,
                 qPrintable(QString("%1 tokens, position %2: max |dlogit| %3 of a range %4").arg(tokens.size()).arg(t).arg(diff).arg(range)));
      }
      QVERIFY2(moved * 10 <= int(a.size()), qPrintable(QString("%1 of %2 positions at a tie").arg(moved).arg(a.size())));
    }
    sq::GenerateOptions g;
    g.max_new_tokens = 12;
    QCOMPARE(on_codes->generate({prompts}, g), fake->generate({prompts}, g));
    if (rotate && o.scheme.w_bits == 8 && o.scheme.a_bits == 16) {
      // Captured states come back in the model's own basis (the fast Walsh-Hadamard transform
      // undoes the run's randomized Hadamard): W8 stays within a few percent of full precision.
      const auto fp = sq::Model::load(model)->capture({prompts}, {}), q = on_codes->capture({prompts}, {});
      for (const auto& [point, a] : fp.last) {
        const auto& b = q.last.at(point);
        double diff = 0, norm = 0;
        for (size_t i = 0; i < a.size(); ++i) diff += double(a[i] - b[i]) * (a[i] - b[i]), norm += double(a[i]) * a[i];
        QVERIFY2(diff < 0.01 * norm, qPrintable(QString::fromStdString(point) + QString(": relative squared error %1").arg(diff / norm)));
      }
    }
  }

  void gptqRunOnTheZoo() {
    sq::QuantizeOptions o;
    o.method = sq::QuantMethod::Gptq;
    o.scheme = sq::parse_scheme("w4a16-g32-asym");
    o.prompts = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    o.samples = 32;
    const std::string run = tmp_.filePath("run-gptq").toStdString();
    sq::quantize_model(kZoo + "/finetuned", o, run);
    std::ifstream in(run + "/run.json");
    const auto j = nlohmann::json::parse(in);
    QCOMPARE(j["calibration"]["ids"].size(), size_t(32));
    QCOMPARE(j["calibration"]["ratio"].get<double>(), 0.75);
    // The draw's make-up by source is recorded: 24 malicious and 8 benign, each source at its share.
    size_t drawn[2] = {0, 0};
    for (const auto& s : j["calibration"]["composition"]) {
      QVERIFY(s["drawn"].get<size_t>() <= s["prompts"].get<size_t>());
      drawn[s["label"] == "malicious"] += s["drawn"].get<size_t>();
    }
    QCOMPARE(drawn[1], size_t(24));
    QCOMPARE(drawn[0], size_t(8));
    // Same seed, same result.
    sq::quantize_model(kZoo + "/finetuned", o, run + "-again");
    const auto a = sq::read_quant_weights(sq::read_quant_run(run)), b = sq::read_quant_weights(sq::read_quant_run(run + "-again"));
    for (const auto& [name, t] : a) QVERIFY(torch::equal(t, b.at(name)));
  }

  void learnedClippingAndQRealign() {
    const std::string model = kZoo + "/finetuned", aligned = kZoo + "/aligned";
    const auto pool = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme("w3a16-asym");
    o.prompts = pool;
    o.samples = 48;
    o.epochs = 10;
    o.lr = 0.05;
    o.aligned_dir = aligned;
    const std::string rtn = tmp_.filePath("c-rtn").toStdString(), lwc = tmp_.filePath("c-lwc").toStdString(),
                      qr = tmp_.filePath("c-qr").toStdString();
    sq::quantize_model(model, o, rtn);
    o.method = sq::QuantMethod::Lwc;
    const sq::QuantizeResult lwc_result = sq::quantize_model(model, o, lwc);
    o.method = sq::QuantMethod::QRealign;
    sq::quantize_model(model, o, qr);

    // LWC beats RTN on how far the quantized model's last block output drifts from full precision.
    const auto calib = sq::draw_calibration(pool, 48, 0.75, 0).prompts;
    const auto fp = sq::Model::load(model);
    const auto prompts = encoded_within_context(*fp, calib);
    sq::CaptureOptions co;
    const sq::Activations ref = fp->capture(prompts, co);
    auto drift = [&](const std::string& run) { return last_block_drift(model, run, prompts, ref); };
    const double e_rtn = drift(rtn), e_lwc = drift(lwc);
    // Q-realign pushes malicious samples to the harmful side of the aligned model's probes.
    sq::ProbeOptions within_context;
    within_context.truncate = true;
    const sq::ProbeReport probes = sq::run_probe(*sq::Model::load(aligned), calib, within_context, "");
    auto probe_loss = [&](const std::string& run) {
      const sq::Activations a = sq::Model::load(model, run)->capture(prompts, co);
      double loss = 0;
      int n = 0;
      for (size_t l = 0; l < probes.layers.size(); ++l) {
        const auto& x = a.last.at("layer." + std::to_string(l));
        for (size_t i = 0; i < calib.size(); ++i) {
          if (!calib[i].label) continue;
          double z = probes.layers[l].b;
          for (int64_t d = 0; d < a.hidden; ++d) z += double(probes.layers[l].w[size_t(d)]) * x[i * size_t(a.hidden) + size_t(d)];
          loss += std::log1p(std::exp(-z));
          ++n;
        }
      }
      return loss / n;
    };
    const double p_lwc = probe_loss(lwc), p_qr = probe_loss(qr);
    qInfo("block drift rtn %.4e lwc %.4e; malicious probe loss lwc %.4f q-realign %.4f", e_rtn, e_lwc, p_lwc, p_qr);
    // LWC trains each block toward its full-precision output: the last block's loss falls. Whether
    // that beats RTN on the drift through the whole model is reported, not asserted: it did on the
    // tiny zoos up to format 5, and not on format 7 (2.94e-3 against RTN's 2.82e-3), as at W4A4
    // (smoothingAndRotationAtW4A4).
    std::vector<double> last_block;
    for (const auto& [stage, loss] : lwc_result.loss_curve)
      if (stage == "layer 1") last_block.push_back(loss);
    QVERIFY(last_block.size() >= 2);
    QVERIFY2(last_block.back() < last_block.front(), qPrintable(QString("%1 -> %2").arg(last_block.front()).arg(last_block.back())));
    // With probes whose intercept is free, full-precision block targets and the paper's epoch
    // schedule: 2.52 vs 3.40 (RTN 3.18). With the earlier setting (liblinear's intercept, targets
    // on the quantized inputs, 10 epochs a block) it was 3.12 vs 3.08: no push at all.
    QVERIFY(p_qr < p_lwc);
  }


  // Rotation and smoothing change the weights, not the full-precision function.
  void rotationAndSmoothingAreEquivalences() {
    const std::string model = kZoo + "/aligned";
    const auto weights = std::make_shared<const sq::Checkpoint>(model);
    const sq::ModelConfig c = sq::load_config(model + "/config.json");
    const sq::FetchFn fetch = [&](const std::string& n) { return sq::as_tensor(weights->tensor(n)).to(torch::kFloat32); };
    const torch::Tensor q = sq::random_orthogonal(c.hidden_size, 3);
    QVERIFY(torch::allclose(torch::matmul(q, q.t()), torch::eye(c.hidden_size), 1e-5, 1e-5));
    QVERIFY(torch::allclose(q.abs(), torch::full_like(q, 1 / std::sqrt(double(c.hidden_size)))));  // Hadamard
    const torch::Tensor q3 = sq::random_orthogonal(48, 3);  // not a power of two: QR
    QVERIFY(torch::allclose(torch::matmul(q3, q3.t()), torch::eye(48), 1e-5, 1e-5));
    std::map<std::string, torch::Tensor> rotated = sq::rotate_globals(c, fetch, q), smoothed;
    for (int64_t i = 0; i < c.num_layers; ++i) {
      std::map<std::string, torch::Tensor> layer;
      for (const auto& spec : sq::parameter_specs(c))
        if (spec.name.rfind("model.layers." + std::to_string(i) + ".", 0) == 0) layer[spec.name] = fetch(spec.name);
      for (auto& [k, v] : sq::rotate_layer(c, i, fetch, q)) rotated[k] = v;
      // Heads share kv heads here (GQA); the q·k scales are tied across rotary pairs, or the
      // rotation would not commute with them.
      const sq::LayerSmoothing s{torch::randn({c.hidden_size}) * 0.5, torch::randn({c.hidden_size}) * 0.5,
                                 torch::randn({c.num_kv_heads * c.head_dim}) * 0.5, torch::randn({c.num_kv_heads * c.head_dim / 2})};
      for (auto& [k, v] : sq::apply_smoothing(c, layer, i, s)) smoothed[k] = v;
    }
    sq::ModelConfig untied = c;
    untied.tie_word_embeddings = false;
    torch::NoGradGuard no_grad;
    const torch::Tensor tokens = torch::tensor({1, 30, 40, 50, 60, 100}, torch::kInt64).view({1, -1});
    const torch::Tensor ref = sq::Llama(c, weights, torch::kCPU).forward(tokens, {}, nullptr);
    const torch::Tensor rot = sq::Llama(untied, weights, torch::kCPU, rotated).forward(tokens, {}, nullptr);
    const torch::Tensor smo = sq::Llama(c, weights, torch::kCPU, smoothed).forward(tokens, {}, nullptr);
    const double range = (ref.max() - ref.min()).item<double>();
    QVERIFY((rot - ref).abs().max().item<double>() < 1e-4 * range);
    QVERIFY((smo - ref).abs().max().item<double>() < 1e-4 * range);
    QVERIFY(!torch::allclose(rotated.at("model.layers.0.mlp.up_proj.weight"), fetch("model.layers.0.mlp.up_proj.weight")));
    QVERIFY(!torch::allclose(smoothed.at("model.layers.0.self_attn.k_proj.weight").abs().amax(1),
                             fetch("model.layers.0.self_attn.k_proj.weight").abs().amax(1)));  // rows scaled by q·k
  }

  // W4A4 with queries, keys and values at 4 bits: learned clipping with smoothing (LWC + LET)
  // beats round to nearest on the block drift; a rotated run loads back with its untied head and
  // rotated embeddings.
  void smoothingAndRotationAtW4A4() {
    const std::string model = kZoo + "/finetuned";
    const auto pool = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme("w4a4qkv4");
    o.prompts = pool;
    o.samples = 32;
    o.epochs = 5;
    const std::string rtn = tmp_.filePath("a4-rtn").toStdString(), let = tmp_.filePath("a4-let").toStdString(),
                      rot = tmp_.filePath("a4-rot").toStdString();
    sq::quantize_model(model, o, rtn);
    o.rotate = true;
    sq::quantize_model(model, o, rot);
    o.rotate = false;
    o.method = sq::QuantMethod::Lwc;
    o.scheme = sq::parse_scheme("w4a4");  // the method adds qkv4
    const sq::QuantizeResult r = sq::quantize_model(model, o, let);
    QVERIFY(QString::fromStdString(r.notes.front()).startsWith(QStringLiteral("queries, keys and values quantized at the activation bits (4)")));
    QVERIFY(QString::fromStdString(r.notes.back()).contains(QStringLiteral("block loss")));
    QCOMPARE(sq::read_quant_run(let).scheme.q_bits, 4);
    const auto fp = sq::Model::load(model);
    const auto prompts = encoded_within_context(*fp, sq::draw_calibration(pool, 32, 0.75, 1).prompts);
    sq::CaptureOptions co;
    const sq::Activations ref = fp->capture(prompts, co);
    auto drift = [&](const std::string& run) { return last_block_drift(model, run, prompts, ref); };
    const double e_rtn = drift(rtn), e_let = drift(let), e_rot = drift(rot);
    qInfo("W4A4 drift of the last block: rtn %.4e, lwc+let %.4e, rotated rtn %.4e", e_rtn, e_let, e_rot);
    // LWC+LET trains each block toward its full-precision output: the last block's loss falls.
    std::vector<double> last_block;
    for (const auto& [stage, loss] : r.loss_curve)
      if (stage == "layer 1") last_block.push_back(loss);
    QVERIFY(last_block.size() >= 2);
    QVERIFY2(last_block.back() < last_block.front(), qPrintable(QString("%1 -> %2").arg(last_block.front()).arg(last_block.back())));
    // Whether that beats RTN on the drift through the whole model is not asserted: the sign has
    // turned with every retrained tiny zoo (format 3: 1.27e-2 against RTN's 1.17e-2, without Q/K/V
    // quantized; format 4: 3.98e-3 against 4.15e-3; format 5, the same training summed in another
    // order: 4.30e-3 against 4.12e-3; format 7: 3.97e-3 against 3.46e-3). Nor is rotation against
    // RTN: the rotated model drifted more than RTN on formats 4 and 5 (4.95e-3), and less on
    // format 7 (3.42e-3 against 3.46e-3), so that finding was one of the draw.
    QVERIFY(sq::read_quant_run(rot).untied);
  }

  // KV-cache quantization: keys and values on an asymmetric grid per token and head, within a
  // grid step of the input; a kv4 run computes differently from the same run without it, loads
  // back with its KV bits, and the full-precision path is untouched.
  void kvCacheQuantization() {
    torch::manual_seed(5);
    const torch::Tensor k = torch::randn({2, 3, 5, 16}) * 3;  // [B, heads, T, head_dim]
    const torch::Tensor q = sq::fake_quant_per_head(k, 4);
    const torch::Tensor range = std::get<0>(k.max(-1, true)) - std::get<0>(k.min(-1, true));
    QVERIFY(((q - k).abs() <= range / 15 / 2 + 1e-5).all().item<bool>());  // half a step of 15 levels
    QVERIFY(torch::equal(sq::fake_quant_per_head(k, 16), k));
    const torch::Tensor distinct = std::get<0>(at::_unique(q[0][0][0]));
    QVERIFY(distinct.numel() <= 16);
    const std::string model = kZoo + "/aligned";
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme("w4a4kv4");
    const std::string kv = tmp_.filePath("kv4").toStdString(), plain = tmp_.filePath("kv16").toStdString();
    sq::quantize_model(model, o, kv);
    o.scheme = sq::parse_scheme("w4a4");
    sq::quantize_model(model, o, plain);
    const std::string qkv = tmp_.filePath("qkv4").toStdString();
    o.scheme = sq::parse_scheme("w4a4qkv4");
    sq::quantize_model(model, o, qkv);
    QCOMPARE(sq::read_quant_run(kv).scheme.kv_bits, 4);
    QCOMPARE(sq::read_quant_run(qkv).scheme.q_bits, 4);
    const std::vector<int32_t> tokens = {1, 30, 40, 50, 60, 100, 7, 8};
    auto max_diff = [&](const std::string& x, const std::string& y) {
      return double(max_abs_diff(sq::Model::load(model, x)->logits(tokens), sq::Model::load(model, y)->logits(tokens)));
    };
    const double kv_vs_plain = max_diff(kv, plain), q_vs_kv = max_diff(qkv, kv);
    qInfo("at W4A4, max |dlogit|: kv4 vs kv16 %.4f, qkv4 vs kv4 %.4f", kv_vs_plain, q_vs_kv);
    QVERIFY(kv_vs_plain > 1e-3);
    QVERIFY(q_vs_kv > 1e-3);
  }

  void aaqObjective() {
    // The loss itself: no pull when the quantized logits are the teacher's; push = KL(base || fp).
    torch::manual_seed(0);
    const torch::Tensor fp = torch::randn({2, 3, 50}), base = torch::randn({2, 3, 50});
    const sq::AaqTargets t = sq::aaq_targets(fp, base, 10);
    const sq::AaqLoss same = sq::aaq_loss(fp, t, {}, 0.5);
    QVERIFY(same.pull.item<double>() < 1e-6);
    QVERIFY(same.push.item<double>() > 0.1);
    QVERIFY(std::abs(same.loss.item<double>() + 0.5 * same.push.item<double>()) < 1e-6);

    // On the tiny zoo: training lowers the objective and the KL to the model's own full-precision
    // outputs (its teacher); the push term should keep the quantized model further from the base
    // than pulling alone does.
    sq::QuantizeOptions o;
    o.method = sq::QuantMethod::Aaq;
    o.scheme = sq::parse_scheme("w4a4");
    o.rotate = true;
    o.prompts = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    o.samples = 32;
    o.epochs = 8;
    o.lr = 0.002;
    o.base_dir = kZoo + "/base";
    const std::string run = tmp_.filePath("aaq").toStdString();
    o.lambda = 1.0;
    const sq::QuantizeResult r = sq::quantize_model(kZoo + "/aligned", o, run);
    o.lambda = 0.0;
    const sq::QuantizeResult pull_only = sq::quantize_model(kZoo + "/aligned", o, run + "-pull");
    qInfo("aaq lambda 1: loss %.4f -> %.4f, KL to aligned %.4f -> %.4f, KL to base %.4f -> %.4f; lambda 0: KL to base %.4f",
          r.aaq_before.loss, r.aaq_after.loss, r.aaq_before.pull, r.aaq_after.pull, r.aaq_before.push, r.aaq_after.push,
          pull_only.aaq_after.push);
    // Training moves the transforms (the objective changes from epoch to epoch), and the run keeps
    // the epoch with the lowest objective, or the start when none beat it. Whether one beats it is
    // reported: on the tiny zoos up to format 5 the objective fell; on format 7, at this rate, no
    // epoch of either run beat the start (at 5e-4 the fifth did, by 0.002).
    for (const sq::QuantizeResult* q : {&r, &pull_only}) {
      double lowest = q->aaq_before.loss;
      bool moved = false;
      for (const auto& [stage, loss] : q->loss_curve)
        if (stage == "aaq") lowest = std::min(lowest, loss), moved = moved || std::abs(loss - q->aaq_before.loss) > 1e-6;
      QVERIFY(moved);
      QVERIFY2(std::abs(q->aaq_after.loss - lowest) < 1e-9, qPrintable(QString("%1 kept, %2 the lowest").arg(q->aaq_after.loss).arg(lowest)));
    }
    // Whether the push term moves the quantized model further from the base than pulling alone
    // is not asserted: on the format-4 tiny zoo the KL to the base ended within 0.01 of pulling
    // alone's, either side of it from run to run (lambda 1: 2.1362; pulling alone 2.1358); on
    // format 5, the same training summed in another order, 2.1533 against 2.0985. What the push
    // buys is measured on the demo zoo over calibration seeds (docs/efficacy.md).
    QVERIFY(sq::Model::load(kZoo + "/aligned", run) != nullptr);
    const auto j = nlohmann::json::parse(std::ifstream(run + "/run.json"));
    QCOMPARE(j["aaq"]["teacher"].get<std::string>(), std::string("the model itself in full precision"));
    o.base_dir.clear();
    QVERIFY(errorOf([&] { sq::quantize_model(kZoo + "/aligned", o, run + "-x"); }).contains("--base"));
  }

  // Q-realign follows the aligned model's probes, as the paper's code does: fitted on it, or read
  // from a probe folder of it; probes of the model being quantized are refused with the reason.
  // Its blocks train on the paper's epoch schedule toward the full-precision model's outputs.
  void qRealignProbesComeFromTheAlignedModel() {
    const std::string model = kZoo + "/finetuned";
    sq::QuantizeOptions o;
    o.method = sq::QuantMethod::QRealign;
    o.scheme = sq::parse_scheme("w8a8");
    o.prompts = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    o.samples = 16;
    o.epochs = 2;
    const std::string run = tmp_.filePath("qr-probes").toStdString();
    QVERIFY(errorOf([&] { sq::quantize_model(model, o, run); }).contains("q-realign needs probes: Q-realign's probes must come from the aligned model"));
    o.aligned_dir = model;
    QVERIFY(errorOf([&] { sq::quantize_model(model, o, run); }).contains("is the model being quantized: Q-realign's probes"));
    const QString data = QString::fromStdString(kZoo + "/data/calibration.jsonl");
    const QString own = tmp_.filePath("probes-own"), aligned = tmp_.filePath("probes-aligned");
    // --truncate: one calibration prompt runs past the tiny zoo's context, as quantize's own probe fit cuts it.
    QVERIFY(runCli({"probe", "--model", QString::fromStdString(model), "--data", data, "--out", own, "--folds", "0", "--truncate"}).exitCode == 0);
    QVERIFY(runCli({"probe", "--model", QString::fromStdString(kZoo + "/aligned"), "--data", data, "--out", aligned, "--folds", "0", "--truncate"}).exitCode == 0);
    o.aligned_dir.clear();
    o.probes_dir = own.toStdString();
    QVERIFY(errorOf([&] { sq::quantize_model(model, o, run); }).contains(QString::fromStdString("these probes were fitted on " + model)));
    o.probes_dir = aligned.toStdString();
    sq::quantize_model(model, o, run);
    const auto j = nlohmann::json::parse(std::ifstream(run + "/run.json"));
    QCOMPARE(j["lwc"]["epochs_per_layer"], nlohmann::json::array({1, 7}));  // 2 - 5 (at least 1), 2 + 5
    QVERIFY(j["lwc"]["probes_from"].get<std::string>().find("probes-aligned") != std::string::npos);
    QVERIFY(j["lwc"]["reconstruction_target"].get<std::string>().rfind("full-precision model", 0) == 0);
    // The CLI says the same before any work.
    const CliResult r = runCli({"quantize", "--model", QString::fromStdString(model), "--method", "q-realign", "--scheme", "w8a8",
                                "--data", data, "--out", tmp_.filePath("qr-cli")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("needs the aligned model's probes"), qPrintable(r.err));
  }

  // The aligned model's probes and bases read the aligned model quantized and the fine-tuned model
  // (its drift), all in one basis.
  void probeComparedModelsInOneBasis() {
    const QString model = QString::fromStdString(kZoo + "/aligned"), finetuned = QString::fromStdString(kZoo + "/finetuned");
    const QString run = tmp_.filePath("probe-w8a8"), out = tmp_.filePath("probe-cmp");
    const QStringList data = {QString::fromStdString(kZoo + "/data/heldout_malicious.jsonl"),
                              QString::fromStdString(kZoo + "/data/heldout_benign.jsonl")};
    CliResult r = runCli({"quantize", "--model", model, "--method", "rtn", "--scheme", "w8a8", "--out", run, "--quiet"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    r = runCli(QStringList{"probe", "--model", model, "--quant", run, "--compare", "finetuned=" + finetuned, "--out", out, "--data"} + data);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("finetuned (same probes; accuracy, malicious side %)"), qPrintable(r.err));
    const auto probe = nlohmann::json::parse(std::ifstream((out + "/probe.json").toStdString()));
    const auto cmp = nlohmann::json::parse(std::ifstream((out + "/comparison.json").toStdString()));
    QCOMPARE(cmp["compared"].size(), size_t(2));
    QCOMPARE(cmp["compared"][0]["label"].get<std::string>(), std::string("quantized"));
    QCOMPARE(cmp["compared"][1]["label"].get<std::string>(), std::string("finetuned"));
    QCOMPARE(cmp["compared"][1]["quant_run"].get<std::string>(), std::string());
    for (size_t l = 0; l < 2; ++l) {
      const auto& ref = probe["layers"][l];
      const auto& q = cmp["compared"][0]["layers"][l];
      const double fp_margin = ref["margin"], q_margin = q["margin"];
      QVERIFY(std::fabs(fp_margin - q_margin) < 0.1 * std::fabs(fp_margin));  // W8A8 barely moves the probe's view
      QCOMPARE(q["accuracy"].get<double>(), ref["accuracy"].get<double>());
      const double side = cmp["compared"][1]["layers"][l]["malicious_side"];
      QVERIFY(side >= 0 && side <= 1);
    }
    const auto proj = nlohmann::json::parse(std::ifstream((out + "/projection.json").toStdString()));
    const auto& layer = proj["layers"][1];
    QCOMPARE(layer["compared"].size(), size_t(2));
    for (const auto& c : layer["compared"]) {
      QCOMPARE(c["pca"].size(), layer["pca"].size());
      QVERIFY(c["pca"] != layer["pca"]);  // the compared points, in the reference axes
    }
    QVERIFY(layer["compared"][0]["probe_plane"] != layer["compared"][1]["probe_plane"]);
    QVERIFY(std::filesystem::exists((out + "/activations_quantized.safetensors").toStdString()));
    QVERIFY(std::filesystem::exists((out + "/activations_finetuned.safetensors").toStdString()));
    // Labels name files and columns: refused when they could not, twice, or as the reference.
    for (const QString& bad : {QStringLiteral("a b=") + finetuned, QStringLiteral("reference=") + finetuned}) {
      r = runCli(QStringList{"probe", "--model", model, "--compare", bad, "--out", out + "-bad", "--data"} + data);
      QCOMPARE(r.exitCode, 1);
      QVERIFY2(r.err.contains("use letters, digits"), qPrintable(r.err));
    }
    r = runCli(QStringList{"probe", "--model", model, "--compare", "x=" + finetuned, "x=" + model, "--out", out + "-bad", "--data"} + data);
    QVERIFY2(r.exitCode == 1 && r.err.contains("'x' is given twice"), qPrintable(r.err));
    r = runCli(QStringList{"probe", "--model", model, "--compare", finetuned, "--data"} + data);
    QVERIFY2(r.exitCode == 2 && r.err.contains("--compare takes LABEL=DIR"), qPrintable(r.err));
    QVERIFY(!std::filesystem::exists((out + "-bad").toStdString()));
  }

  void cancelLeavesNothing() {
    sq::CancelToken cancel;
    cancel.cancel();
    sq::QuantizeOptions o;
    o.scheme = sq::parse_scheme("w8a8");
    o.progress.cancel = &cancel;
    const std::string run = tmp_.filePath("cancelled").toStdString();
    QVERIFY_THROWS_EXCEPTION(sq::Cancelled, sq::quantize_model(kZoo + "/base", o, run));
    QVERIFY(!std::filesystem::exists(run));
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path().toStdString()))
      QVERIFY2(e.path().filename().string().find("cancelled") == std::string::npos, e.path().c_str());
  }

  void quantizeCommand() {
    const QString model = QString::fromStdString(kZoo + "/base");
    CliResult r = runCli({"quantize", "--model", model, "--method", "rtn", "--scheme", "w9a9", "--out", tmp_.filePath("x")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains("unknown scheme 'w9a9'"));
    r = runCli({"quantize", "--model", model, "--method", "gptq", "--scheme", "w4a16", "--out", tmp_.filePath("x")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains("needs calibration prompts"));
    r = runCli({"quantize", "--model", model, "--method", "rtn", "--scheme", "w4a16-g128", "--out", tmp_.filePath("x")});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("not a multiple of the group size 128"));
    r = runCli({"quantize", "--model", model, "--method", "rtn", "--scheme", "w4a4", "--out", tmp_.filePath("w4a4")});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    r = runCli({"generate", "--model", model, "--quant", tmp_.filePath("w4a4"), "--prompt", "Hi", "--chat", "--max-new", "4"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    r = runCli({"logits", "--model", model, "--quant", tmp_.filePath("nowhere"), "--tokens", "1"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("not a quantization run folder"));
  }

  // Nothing the user had is deleted: an existing folder that is not a run, the model itself, the
  // current folder, a folder inside an input; a run only with --force.
  void existingOutputsAreNeverLost() {
    namespace fs = std::filesystem;
    const QString model = QString::fromStdString(kZoo + "/base");
    const QString mine = tmp_.filePath("my-notes");
    fs::create_directories(mine.toStdString());
    std::ofstream((mine + "/notes.txt").toStdString()) << "the user's own file";
    auto quantize = [&](const QString& out, const QStringList& extra = {}) {
      return runCli(QStringList{"quantize", "--model", model, "--method", "rtn", "--scheme", "w8a8", "--out", out, "--quiet"} + extra);
    };
    CliResult r = quantize(mine);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains(mine + ": exists and is not a quantization run (it has no run.json)"), qPrintable(r.err));
    r = quantize(mine, {"--force"});  // --force replaces runs only
    QCOMPARE(r.exitCode, 1);
    QVERIFY(fs::exists((mine + "/notes.txt").toStdString()));
    r = quantize(model, {"--force"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("is also an input of this command"), qPrintable(r.err));
    QVERIFY(fs::exists(kZoo + "/base/model.safetensors"));
    r = quantize(model + "/run");
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("lies inside an input"), qPrintable(r.err));
    QVERIFY(!fs::exists(kZoo + "/base/run"));
    r = quantize(QStringLiteral("."));
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("is the current folder"), qPrintable(r.err));
    // A run is replaced only with --force.
    const QString run = tmp_.filePath("kept-run");
    QVERIFY(quantize(run).exitCode == 0);
    r = quantize(run);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("holds a quantization run already; --force replaces it"), qPrintable(r.err));
    QVERIFY(quantize(run, {"--force"}).exitCode == 0);
    for (const auto& e : fs::directory_iterator(tmp_.path().toStdString()))
      QVERIFY2(e.path().filename().string().find(".staging-") == std::string::npos, e.path().c_str());
  }

  // Killed for real at every write and rename of a replacing run: the run folder holds the old
  // run or the new one, complete and loadable, every time; what a kill left beside it is cleaned
  // up by the next write.
  void killedQuantizeLosesNothing() {
    namespace fs = std::filesystem;
    const QString model = QString::fromStdString(kZoo + "/base"), run = tmp_.filePath("killed-run");
    QVERIFY(runCli({"quantize", "--model", model, "--method", "rtn", "--scheme", "w8a8", "--out", run, "--quiet"}).exitCode == 0);
    std::set<std::string> seen;
    const int kills = killAtEveryStep(
        {"quantize", "--model", model, "--method", "rtn", "--scheme", "w4a16-g32", "--out", run, "--force", "--quiet"},
        [&](const QString& step) {
          const sq::QuantRun q = sq::read_quant_run(run.toStdString());
          seen.insert(q.scheme.name);
          QVERIFY2(q.scheme.name == "w8a8" || q.scheme.name == "w4a16-g32", qPrintable(step));
          QVERIFY2(sq::Model::load(kZoo + "/base", run.toStdString()) != nullptr, qPrintable(step));
        });
    qInfo("killed at %d steps; the run folder held %zu different runs across them", kills, seen.size());
    QVERIFY2(kills >= 5, qPrintable(QString::number(kills)));  // every layer file, log.json, run.json, the exchange
    QCOMPARE(seen.size(), size_t(2));                          // the old run before the exchange, the new one after
    QCOMPARE(QString::fromStdString(sq::read_quant_run(run.toStdString()).scheme.name), QStringLiteral("w4a16-g32"));
    for (const auto& e : fs::directory_iterator(tmp_.path().toStdString()))
      QVERIFY2(e.path().filename().string().find(".killed-run.staging-") == std::string::npos, e.path().c_str());
  }

  // `safequant run`: one config in, one run folder out (quantized, evaluated, exported); the same
  // config again is reused; a config that cannot run is refused before any work, naming the key;
  // a run killed at any step leaves nothing a later run trusts.
  void runFromOneConfig() {
    namespace fs = std::filesystem;
    const std::string zoo = kZoo, dir = tmp_.filePath("pipeline").toStdString();
    fs::create_directories(dir);
    auto config = [&](const nlohmann::json& changes) {
      nlohmann::json c = {{"model", zoo + "/finetuned"},
                          {"aligned", zoo + "/aligned"},
                          {"calibration", {zoo + "/data/calibration.jsonl"}},
                          {"evaluation", {zoo + "/data/heldout_malicious.jsonl", zoo + "/data/heldout_benign.jsonl"}},
                          {"method", "q-realign"},
                          {"scheme", "w8a8"},
                          {"samples", 16},
                          {"options", {{"epochs", 2}}},
                          {"eval", {{"max_new_tokens", 8}}},
                          {"exports", {"gguf-f16"}},
                          {"out", "run-a"}};
      if (changes.is_object()) c.merge_patch(changes);
      std::ofstream(dir + "/config.json") << c.dump(2);
      return QString::fromStdString(dir + "/config.json");
    };
    CliResult r = runCli({"run", config({}), "--quiet"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const std::string out = dir + "/run-a";
    QCOMPARE(r.out.trimmed(), QString::fromStdString(out));
    const auto record = nlohmann::json::parse(std::ifstream(out + "/run-config.json"));
    QVERIFY(record["complete"].get<bool>());
    QCOMPARE(record["resolved"]["options"]["lr"].get<double>(), 0.05);  // the method's default, filled in
    QVERIFY(sq::read_run_record(out + "/quant").method == sq::QuantMethod::QRealign);
    const sq::EvalReport eval = sq::read_eval_json(out + "/eval.json").front();
    QCOMPARE(eval.n_malicious + eval.n_benign, 80);
    const sq::Manifest manifest = sq::read_manifest(out + "/exports/gguf-f16");
    QVERIFY2(manifest.run_json.find(out + "/quant") != std::string::npos, manifest.run_json.c_str());  // the run in its place
    // The same config and inputs: reused, untouched.
    const auto written = fs::last_write_time(out + "/run-config.json");
    r = runCli({"run", config({})});
    QVERIFY2(r.exitCode == 0 && r.err.contains("run: reused " + QString::fromStdString(out)), qPrintable(r.err));
    QVERIFY(fs::last_write_time(out + "/run-config.json") == written);
    // Another config at the same folder needs --force.
    r = runCli({"run", config({{"seed", 1}}), "--quiet"});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("--force"), qPrintable(r.err));
    // Refused before any work, naming the file and the key (exit 2).
    const std::pair<nlohmann::json, QString> bad[] = {
        {{{"colour", "red"}}, "\"colour\" is not a key here"},
        {{{"ratio", 1.5}}, "\"ratio\" must be between 0 and 1, not 1.5"},
        {{{"samples", "many"}}, "\"samples\" must be a whole number"},
        {{{"options", {{"lr", 0}}}}, "\"options.lr\" must be positive"},
        {{{"method", "aaq"}}, "\"base\" is required by aaq"},
        {{{"evaluation", {"nowhere.jsonl"}}}, "\"evaluation\" names " + QString::fromStdString(dir) + "/nowhere.jsonl, which is not a file"},
        {{{"out", "run-b"}, {"exports", {"gguf-f16", "gguf-f16"}}}, "\"exports\" names \"gguf-f16\" twice"}};
    for (const auto& [changes, message] : bad) {
      r = runCli({"run", config(changes)});
      QCOMPARE(r.exitCode, 2);
      QVERIFY2(r.err.contains(QString::fromStdString(dir) + "/config.json: " + message), qPrintable(r.err));
    }
    QVERIFY(!fs::exists(dir + "/run-b"));
    // With a judge (a tiny random one), the run's eval.json carries its verdicts.
    TinySpec judge;
    judge.context = 4096;
    writeTinyModel(dir + "/judge", judge);
    r = runCli({"run", config({{"method", "rtn"}, {"aligned", nullptr}, {"calibration", nullptr}, {"exports", nlohmann::json::array()},
                               {"eval", {{"judge", "judge"}, {"judge_format", "harmbench"}}}, {"out", "run-j"}}),
                "--quiet"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const sq::EvalReport judged = sq::read_eval_json(dir + "/run-j/eval.json").front();
    QVERIFY(judged.judge && judged.judge->judged == judged.n_malicious && judged.judge->format == "harmbench");
    // Killed for real at every step: the folder is absent, or says it is incomplete and is redone.
    const QString killed = config({{"method", "rtn"}, {"aligned", nullptr}, {"calibration", nullptr}, {"out", "run-k"}});
    const int kills = killAtEveryStep({"run", killed, "--quiet"}, [&](const QString& step) {
      const auto j = sq::read_json_file_or_null(dir + "/run-k/run-config.json");
      QVERIFY2(j.is_null() || !j["complete"].get<bool>(), qPrintable(step));
    });
    qInfo("run killed at %d steps", kills);
    QVERIFY2(kills >= 5, qPrintable(QString::number(kills)));
    QVERIFY(nlohmann::json::parse(std::ifstream(dir + "/run-k/run-config.json"))["complete"].get<bool>());
  }

  // `safequant sweep`: a grid expands to runs, made two at a time, gathered into one table; a
  // second sweep makes nothing again; a run that fails is listed with its log; a grid that
  // makes a bad config is refused before any work, naming the run and the key.
  void sweepOverAGrid() {
    namespace fs = std::filesystem;
    const std::string zoo = kZoo, dir = tmp_.filePath("sweep").toStdString();
    fs::create_directories(dir);
    auto sweep = [&](const nlohmann::json& grid) {
      const nlohmann::json c = {{"run",
                                 {{"model", zoo + "/aligned"},
                                  {"evaluation", {zoo + "/data/heldout_malicious.jsonl", zoo + "/data/heldout_benign.jsonl"}},
                                  {"method", "rtn"},
                                  {"scheme", "w8a8"},
                                  {"eval", {{"max_new_tokens", 6}}}}},
                                {"grid", grid},
                                {"out", "grid"}};
      std::ofstream(dir + "/sweep.json") << c.dump(2);
      return QString::fromStdString(dir + "/sweep.json");
    };
    const nlohmann::json grid = {{"scheme", {"w8a8", "w4a16-g32"}}, {"eval.max_new_tokens", {4, 6}}};
    CliResult r = runCli({"sweep", sweep(grid), "--jobs", "2"}, 600000);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("sweep: 4 of 4 runs done"), qPrintable(r.err));
    const auto table = nlohmann::json::parse(std::ifstream(dir + "/grid/sweep.json"));
    QCOMPARE(table["runs"].size(), size_t(4));
    for (const auto& row : table["runs"]) {
      QCOMPARE(row["status"].get<std::string>(), std::string("done"));
      QVERIFY(row["harmful_score"].is_number() && row["model_mb"].get<double>() > 0);
    }
    QCOMPARE(table["runs"][1]["dir"].get<std::string>(), dir + "/grid/runs/eval.max_new_tokens=4,scheme=w4a16-g32");
    int front = 0;
    for (const auto& row : table["runs"]) front += row["pareto"].get<bool>();
    QVERIFY(front >= 1);
    // The Pareto chart, where the chart program is built (with the GUI): a PNG and an SVG.
    if (fs::exists(SQ_BINARY_DIR "/app/safequant-chart")) {
      const QImage png(QString::fromStdString(dir + "/grid/pareto.png"));
      QCOMPARE(png.size(), QSize(1920, 1280));
      QFile svg(QString::fromStdString(dir + "/grid/pareto.svg"));
      QVERIFY(svg.open(QIODevice::ReadOnly));
      const QByteArray text = svg.readAll();
      QVERIFY(text.contains("<svg") && text.contains("harmful score"));
    } else {
      QVERIFY2(r.err.contains("no chart"), qPrintable(r.err));
    }
    std::ifstream csv(dir + "/grid/sweep.csv");
    int lines = 0;
    for (std::string line; std::getline(csv, line);) ++lines;
    QCOMPARE(lines, 5);
    // Each run's config runs alone, and finds its run done.
    r = runCli({"run", QString::fromStdString(dir + "/grid/configs/eval.max_new_tokens=6,scheme=w8a8.json")});
    QVERIFY2(r.exitCode == 0 && r.err.contains("run: reused"), qPrintable(r.err));
    // Again: nothing to make.
    r = runCli({"sweep", sweep(grid)});
    QVERIFY2(r.exitCode == 0 && r.err.contains("4 runs, 4 done before, 0 to make"), qPrintable(r.err));
    // A run that fails at run time (groups of 128 do not divide the tiny model) is listed with its log.
    r = runCli({"sweep", sweep({{"scheme", {"w8a8", "w4a16-g128"}}})});
    QCOMPARE(r.exitCode, 1);
    const QString log = QString::fromStdString(dir + "/grid/runs/scheme=w4a16-g128.log");
    QVERIFY2(r.err.contains("sweep: scheme=w4a16-g128 failed; its log: " + log), qPrintable(r.err));
    QFile f(log);
    QVERIFY(f.open(QIODevice::ReadOnly) && f.readAll().contains("multiple of the group size"));
    // A grid value the run config refuses: before any run starts.
    r = runCli({"sweep", sweep({{"ratio", {0.5, 2}}})});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("sweep.json (run ratio=2): \"ratio\" must be between 0 and 1, not 2"), qPrintable(r.err));
    QVERIFY(!fs::exists(dir + "/grid/runs/ratio=0.5"));
    // "~/" in the sweep's out is the home folder, as in a run config (not a folder named "~").
    {
      auto c = nlohmann::json::parse(std::ifstream(dir + "/sweep.json"));
      c["out"] = "~/sweeps/ladder";
      c["grid"] = {{"scheme", {"w8a8"}}};
      std::ofstream(dir + "/home-sweep.json") << c.dump();
      const QByteArray home = qgetenv("HOME");
      qputenv("HOME", QByteArray::fromStdString(dir + "/home"));
      const std::string out = sq::read_sweep_config(dir + "/home-sweep.json").out;
      qputenv("HOME", home);
      QCOMPARE(QString::fromStdString(out), QString::fromStdString(dir + "/home/sweeps/ladder"));
    }
  }

  // The same sweep as Slurm scripts: run as the job array's tasks and then the gathering job
  // would run them (bash, with the task index Slurm sets), they give the table a local sweep
  // gives. (Submitting through a real Slurm is left to a machine that runs its daemons.)
  void sweepAsSlurmScripts() {
    namespace fs = std::filesystem;
    const std::string zoo = kZoo, dir = tmp_.filePath("slurm").toStdString();
    fs::create_directories(dir);
    auto sweep = [&](const std::string& out) {
      const nlohmann::json c = {{"run",
                                 {{"model", zoo + "/aligned"},
                                  {"evaluation", {zoo + "/data/heldout_malicious.jsonl"}},
                                  {"method", "rtn"},
                                  {"scheme", "w8a8"},
                                  {"eval", {{"max_new_tokens", 4}}}}},
                                {"grid", {{"scheme", {"w8a8", "w4a16-g32"}}}},
                                {"out", out}};
      std::ofstream(dir + "/" + out + ".json") << c.dump(2);
      return QString::fromStdString(dir + "/" + out + ".json");
    };
    CliResult r = runCli({"sweep", sweep("local"), "--quiet"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    r = runCli({"sweep", sweep("cluster"), "--emit-slurm", QString::fromStdString(dir + "/scripts"), "--partition", "debug", "--time",
                "10:00", "--cpus-per-task", "1", "--sbatch-arg=--mem=2G", "--sbatch-arg=--qos=short"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QFile array(QString::fromStdString(dir + "/scripts/array.sbatch"));
    QVERIFY(array.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(array.readAll());
    for (const char* line : {"#SBATCH --array=0-1", "#SBATCH --partition=debug", "#SBATCH --time=10:00", "#SBATCH --cpus-per-task=1",
                             "#SBATCH --mem=2G", "#SBATCH --qos=short"})
      QVERIFY2(text.contains(QLatin1String(line)), line);
    // Nothing ran yet: gathering lists both runs as pending (exit 1).
    r = runCli({"sweep", sweep("cluster"), "--gather"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("scheme=w8a8 pending"), qPrintable(r.err));
    for (const char* task : {"0", "1"}) {
      const CliResult t = runProgram("/bin/bash", {QString::fromStdString(dir + "/scripts/array.sbatch")}, 300000,
                                     {QStringLiteral("SLURM_ARRAY_TASK_ID=") + task, QStringLiteral("SLURM_CPUS_PER_TASK=1")});
      QVERIFY2(t.exitCode == 0, qPrintable(t.err));
    }
    QVERIFY(fs::exists(dir + "/cluster/runs/scheme=w4a16-g32.log"));  // each task's log beside its run
    const CliResult g = runProgram("/bin/bash", {QString::fromStdString(dir + "/scripts/gather.sbatch")});
    QVERIFY2(g.exitCode == 0, qPrintable(g.err));
    const auto local = nlohmann::json::parse(std::ifstream(dir + "/local/sweep.json"));
    const auto cluster = nlohmann::json::parse(std::ifstream(dir + "/cluster/sweep.json"));
    QCOMPARE(cluster["runs"].size(), local["runs"].size());
    for (size_t i = 0; i < local["runs"].size(); ++i)
      for (const char* k : {"scheme", "status", "harmful_score", "refusal_rate_benign", "model_mb"})
        QVERIFY2(cluster["runs"][i][k] == local["runs"][i][k], k);
    // A line break cannot go into a script line.
    r = runCli({"sweep", sweep("cluster"), "--emit-slurm", QString::fromStdString(dir + "/scripts"), "--partition", "a\nb"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("--partition 'a\nb': a script line cannot hold a line break"), qPrintable(r.err));
  }

  // A 4-run sweep through a real single-node Slurm (slurmctld, slurmd and munged started under a
  // temporary folder by tests/slurm/cluster.sh): submitted as a job array of 1-CPU tasks and a
  // gathering job, its table equals the local one, learned clipping included (it holds the
  // threads its config names, not the task's CPUs). Skipped, with the reason, where the daemons
  // cannot start.
  void sweepThroughSlurm() {
    namespace fs = std::filesystem;
    QTemporaryDir cluster;
    const QString script = QStringLiteral(SQ_SOURCE_DIR "/tests/slurm/cluster.sh");
    const CliResult up = runProgram(QStringLiteral("/bin/bash"), {script, QStringLiteral("start"), cluster.path()}, 120000);
    if (up.exitCode == 77) QSKIP(qPrintable(QStringLiteral("no Slurm here: ") + up.err.trimmed()));
    QVERIFY2(up.exitCode == 0, qPrintable(up.err));
    const auto stop = qScopeGuard([&] { runProgram(QStringLiteral("/bin/bash"), {script, QStringLiteral("stop"), cluster.path()}); });
    const QStringList env = {QStringLiteral("SLURM_CONF=") + up.out.trimmed()};
    const std::string zoo = kZoo, dir = tmp_.filePath("real-slurm").toStdString();
    fs::create_directories(dir);
    auto sweep = [&](const std::string& out) {
      const nlohmann::json c = {{"run",
                                 {{"model", zoo + "/aligned"},
                                  {"calibration", {zoo + "/data/calibration.jsonl"}},
                                  {"evaluation", {zoo + "/data/heldout_malicious.jsonl", zoo + "/data/heldout_benign.jsonl"}},
                                  {"method", "rtn"},
                                  {"scheme", "w8a8"},
                                  {"samples", 16},
                                  {"options", {{"epochs", 2}}},
                                  {"eval", {{"max_new_tokens", 6}}}}},
                                {"grid", {{"method", {"rtn", "lwc"}}, {"scheme", {"w4a8", "w4a16-g32"}}}},
                                {"out", out}};
      std::ofstream(dir + "/" + out + ".json") << c.dump(2);
      return QString::fromStdString(dir + "/" + out + ".json");
    };
    CliResult r = runCli({"sweep", sweep("local"), "--quiet"}, 600000);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    r = runCli({"sweep", sweep("cluster"), "--slurm", "--cpus-per-task", "1", "--time", "20:00"}, 60000, env);
    QVERIFY2(r.exitCode == 0 && r.err.contains("submitted 4 runs"), qPrintable(r.err));
    // The gathering job writes the table last; wait for the queue to empty.
    QElapsedTimer waited;
    waited.start();
    while (true) {
      const CliResult q = runProgram(QStringLiteral("/usr/bin/squeue"), {"-h", "-o", "%i %t"}, 30000, env);
      QVERIFY2(q.exitCode == 0, qPrintable(q.err));
      if (q.out.trimmed().isEmpty()) break;
      QVERIFY2(waited.elapsed() < 15 * 60 * 1000, qPrintable("still queued after 15 minutes: " + q.out));
      QThread::msleep(1000);
    }
    const auto local = nlohmann::json::parse(std::ifstream(dir + "/local/sweep.json"));
    const auto slurm = nlohmann::json::parse(std::ifstream(dir + "/cluster/sweep.json"));
    QCOMPARE(slurm["runs"].size(), size_t(4));
    for (size_t i = 0; i < local["runs"].size(); ++i) {
      QCOMPARE(slurm["runs"][i]["status"].get<std::string>(), std::string("done"));
      for (const char* k : {"name", "method", "scheme", "harmful_score", "refusal_rate_benign", "model_mb", "pareto"})
        QVERIFY2(slurm["runs"][i][k] == local["runs"][i][k], k);
    }
    for (const auto& row : slurm["runs"]) QVERIFY(fs::exists(row["log"].get<std::string>()));  // each task's log beside its run
  }

  // A resolved config reads back as the same config, with and without prompts to evaluate: a
  // sweep's runs are made from it (one without evaluation prompts was refused for the "eval"
  // settings its resolved form always carried).
  void resolvedConfigReadsBack() {
    for (const bool evaluate : {false, true}) {
      nlohmann::json c = {{"model", kZoo + "/aligned"}, {"method", "rtn"}, {"scheme", "w8a8"}};
      if (evaluate) c["evaluation"] = {kZoo + "/data/heldout_benign.jsonl"};
      const sq::RunConfig first = sq::parse_run_config(c, "run.json", kZoo);
      const std::string text = sq::resolved_config_json(first);
      const sq::RunConfig again = sq::parse_run_config(nlohmann::json::parse(text), "resolved.json", kZoo);
      QCOMPARE(sq::resolved_config_json(again), text);
    }
    // A judge is part of the evaluation settings: it reads back, and a wrong one is refused by key.
    nlohmann::json c = {{"model", kZoo + "/aligned"}, {"method", "rtn"}, {"scheme", "w8a8"},
                        {"evaluation", {kZoo + "/data/heldout_benign.jsonl"}},
                        {"eval", {{"judge", kZoo + "/aligned"}, {"judge_format", "harmbench"}}}};
    const sq::RunConfig judged = sq::parse_run_config(c, "run.json", kZoo);
    QCOMPARE(judged.judge_format, std::string("harmbench"));
    const std::string text = sq::resolved_config_json(judged);
    QCOMPARE(sq::resolved_config_json(sq::parse_run_config(nlohmann::json::parse(text), "resolved.json", kZoo)), text);
    c["eval"]["judge_format"] = "gpt";
    QVERIFY(errorOf([&] { sq::parse_run_config(c, "run.json", kZoo); }).contains("unknown judge format 'gpt'"));
    c["eval"] = {{"judge_format", "harmbench"}};
    QVERIFY(errorOf([&] { sq::parse_run_config(c, "run.json", kZoo); }).contains("goes with \"judge\""));
  }

  // The table's Pareto front: a run no other finished run matches or beats on harmful score,
  // utility, over-refusal and size together; and the table reads back as written.
  void sweepTableAndParetoFront() {
    sq::SweepTable t;
    t.fields = {"scheme", "ratio"};
    auto row = [](const char* name, double harmful, double answered, double mb, const char* status = "done") {
      sq::SweepTableRow r;
      r.name = name;
      r.values = {{"scheme", name}, {"ratio", 0.5}};
      r.status = status;
      if (std::string(status) == "done") r.harmful_score = harmful, r.refusal_rate_benign = 100 - answered;
      r.model_mb = mb;
      r.dir = std::string("/runs/") + name;
      r.log = r.dir + ".log";
      return r;
    };
    t.runs = {row("a", 10, 80, 4), row("b", 20, 90, 4), row("c", 20, 70, 4), row("d", 10, 80, 8), row("e", 30, 95, 2), row("f", 0, 100, 1, "failed")};
    sq::mark_pareto_front(t);
    const std::vector<bool> front = {true, true, false, false, true, false};
    for (size_t i = 0; i < t.runs.size(); ++i) QVERIFY2(t.runs[i].pareto == front[i], t.runs[i].name.c_str());
    // Over-refusal of XSTest's safe prompts counts too: "c", beaten on everything else, refuses
    // fewer of them than every other run and so joins the front.
    for (sq::SweepTableRow& r : t.runs) r.refusal_rate_xstest_safe = r.name == "c" ? 10.0 : 30.0;
    sq::mark_pareto_front(t);
    const std::vector<bool> with_xstest = {true, true, true, false, true, false};
    for (size_t i = 0; i < t.runs.size(); ++i) QVERIFY2(t.runs[i].pareto == with_xstest[i], t.runs[i].name.c_str());
    QCOMPARE(sq::sweep_utility_name(t), std::string("benign prompts answered (%)"));
    t.runs[1].task_accuracy = 55.0;
    QCOMPARE(sq::sweep_utility_name(t), std::string("task accuracy (%)"));
    QCOMPARE(*sq::sweep_utility(t.runs[1]), 55.0);
    // Judged, the runs are ranked by the judge's harmful score: "d" (as safe as "a" by the phrase
    // list, twice its size) is judged safest and joins the front.
    for (sq::SweepTableRow& r : t.runs)
      if (r.status == "done") r.judged_harmful_score = r.name == "d" ? 1.0 : 15.0, r.judge_kappa = 0.5;
    sq::mark_pareto_front(t);
    QVERIFY(t.runs[3].pareto);
    QCOMPARE(*sq::sweep_harmful(t.runs[3]), 1.0);
    const std::string dir = tmp_.filePath("table").toStdString();
    std::filesystem::create_directories(dir);
    sq::write_sweep_table(dir, t);
    const sq::SweepTable back = sq::read_sweep_table(dir);
    QCOMPARE(back.fields, t.fields);
    QCOMPARE(back.runs.size(), t.runs.size());
    for (size_t i = 0; i < t.runs.size(); ++i) {
      QCOMPARE(back.runs[i].name, t.runs[i].name);
      QCOMPARE(back.runs[i].values, t.runs[i].values);
      QCOMPARE(back.runs[i].pareto, t.runs[i].pareto);
      QCOMPARE(back.runs[i].harmful_score, t.runs[i].harmful_score);
      QCOMPARE(back.runs[i].task_accuracy, t.runs[i].task_accuracy);
      QCOMPARE(back.runs[i].refusal_rate_xstest_safe, t.runs[i].refusal_rate_xstest_safe);
      QCOMPARE(back.runs[i].judged_harmful_score, t.runs[i].judged_harmful_score);
      QCOMPARE(back.runs[i].judge_kappa, t.runs[i].judge_kappa);
      QCOMPARE(back.runs[i].model_mb, t.runs[i].model_mb);
    }
    std::ofstream(dir + "/sweep.json") << R"({"fields": ["scheme"], "runs": [{"name": "a", "status": "done"}]})";
    try {
      sq::read_sweep_table(dir);
      QFAIL("a table without its sizes was read");
    } catch (const sq::Error& e) {
      QVERIFY2(std::string(e.what()).find("sweep.json") != std::string::npos && std::string(e.what()).find("model_mb") != std::string::npos, e.what());
    }
  }

  // The efficacy table on the tiny zoo, cut to two methods and one seed: the report and its JSON
  // say what was measured, the McNemar p compares with LWC+LET on the same prompts, and a second
  // run reuses the quantization runs it finds.
  void efficacyTable() {
    const QString out = tmp_.filePath("efficacy.md"), work = tmp_.filePath("efficacy-runs");
    const QStringList args{"efficacy", "--zoo", QString::fromStdString(kZoo), "--seeds", "1", "--models", "finetuned",
                           "--schemes", "w8a8", "--methods", "RTN", "LWC+LET", "--work", work, "--out", out, "--quiet"};
    CliResult r = runCli(args, 600000);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    std::ifstream in(tmp_.filePath("efficacy.json").toStdString());
    const auto j = nlohmann::json::parse(in);
    QCOMPARE(j["rows"].size(), size_t(2));
    const auto& rtn = j["rows"][0];
    QCOMPARE(QString::fromStdString(rtn["method"]), QStringLiteral("RTN"));
    QCOMPARE(rtn["mcnemar_vs_lwc_let"].size(), size_t(1));
    const double p = rtn["mcnemar_vs_lwc_let"][0]["p"];
    QVERIFY(p > 0 && p <= 1);
    const int b = rtn["mcnemar_vs_lwc_let"][0]["harmful_only_method"], c = rtn["mcnemar_vs_lwc_let"][0]["harmful_only_lwc_let"];
    QCOMPARE(p, sq::mcnemar_exact(b, c));
    QVERIFY(r.out.contains("| RTN |") && r.out.contains("## Goals"));
    QVERIFY(r.out.contains("Q-realign at W8A8"));  // untested here, and said so
    QVERIFY(r.out.contains("**untested**"));
    // Reused: no run is quantized again.
    const auto stamp = std::filesystem::last_write_time(work.toStdString() + "/finetuned-w8a8-lwc-s0/run.json");
    // Reused, and judged this time (a tiny random judge: the columns and their arithmetic, not its verdicts).
    TinySpec judge;
    judge.context = 4096;
    writeTinyModel(tmp_.filePath("judge").toStdString(), judge);
    r = runCli(QStringList(args) << "--judge" << tmp_.filePath("judge") << "--judge-format" << "harmbench-mistral", 600000);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY(std::filesystem::last_write_time(work.toStdString() + "/finetuned-w8a8-lwc-s0/run.json") == stamp);
    QVERIFY2(r.out.contains("| Method | Harmful % | Judged harmful % | κ with phrases |"), qPrintable(r.out));
    const auto judged = nlohmann::json::parse(std::ifstream(tmp_.filePath("efficacy.json").toStdString()));
    QCOMPARE(judged["rows"][0]["judged_harmful"].size(), size_t(1));
    r = runCli({"efficacy", "--zoo", QString::fromStdString(kZoo), "--methods", "SmoothQuant"});
    QCOMPARE(r.exitCode, 2);
    r = runCli({"efficacy", "--zoo", QString::fromStdString(kZoo), "--seeds", "0"});
    QCOMPARE(r.exitCode, 2);
  }
};

QTEST_GUILESS_MAIN(TstQuant)
#include "tst_quant.moc"
