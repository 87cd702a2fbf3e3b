// The model engine on tiny random checkpoints written here: KV cache against recomputation,
// batches against single prompts, bf16 against f32, shards against one file, and every
// corrupt-file case refused with its message.
#include <sys/stat.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>
#include <limits>
#include <map>
#include <memory>
#include <thread>

#include "core/error.h"
#include "core/eval/evaluate.h"
#include "core/eval/refusal.h"
#include "core/io/gguf.h"
#include "core/model/attention.h"
#include "core/model/chat_template.h"
#include "core/model/prompt_encoding.h"
#include "core/model/config.h"
#include "core/model/llama.h"
#include "core/model/model.h"
#include "core/model/tokenizer.h"
#include "core/run/threads.h"
#include "kernels/half_matmul.h"
#include "tests/cli_runner.h"
#include "tests/error_text.h"
#include "tests/logit_diff.h"
#include "tests/tiny_model.h"

namespace {

int argmax(const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

// Writes a safetensors file by hand: `header` verbatim, then `data_bytes` zero bytes.
void writeRaw(const std::string& path, const std::string& header, size_t data_bytes, uint64_t declared = 0) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = declared ? declared : header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
}


}  // namespace

// How far two computations of a bf16 model may differ, given the largest value compared: float
// rounding, or where this CPU multiplies bf16 weights against activations rounded to bf16 (to 8
// significant bits), 1 % of the largest value. Rounded activations move a tiny model's logits
// by up to 0.5 % of the largest; an error of the kernels or of the blocking moves them by their
// whole size.
double bf16_tolerance(double largest) {
  const bool rounding = sq::kernels::half_matmul_rounds_to_bf16(sq::kernels::HalfKind::BF16, sq::kernels::CpuPath::Best);
  return rounding ? 1e-2 * largest : 1e-4;
}

class TstModel : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  std::string dir(const QString& name) { return tmp_.filePath(name).toStdString(); }
  // A fresh copy of the model folder `base` under `name`, to corrupt.
  std::string copyOf(const std::string& base, const char* name) {
    const std::string d = dir(name);
    std::filesystem::remove_all(d);
    std::filesystem::copy(base, d, std::filesystem::copy_options::recursive);
    return d;
  }

 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void kvCacheEqualsRecompute_data() {
    QTest::addColumn<QString>("type");
    QTest::addColumn<bool>("tied");
    QTest::addColumn<bool>("bf16");
    QTest::addColumn<int>("kvHeads");
    QTest::newRow("llama gqa f32 untied") << "llama" << false << false << 2;
    QTest::newRow("llama mha bf16 tied") << "llama" << true << true << 4;
    QTest::newRow("qwen2 biases gqa") << "qwen2" << true << false << 1;
    QTest::newRow("mistral") << "mistral" << false << true << 2;
  }
  void kvCacheEqualsRecompute() {
    QFETCH(QString, type);
    QFETCH(bool, tied);
    QFETCH(bool, bf16);
    QFETCH(int, kvHeads);
    TinySpec s;
    s.model_type = type.toStdString();
    s.tied = tied;
    s.bf16 = bf16;
    s.kv_heads = kvHeads;
    const std::string d = dir(QStringLiteral("kv-%1-%2-%3-%4").arg(type).arg(tied).arg(bf16).arg(kvHeads));
    writeTinyModel(d, s);
    const auto model = sq::Model::load(d);
    QCOMPARE(model->config().num_kv_heads, int64_t(kvHeads));
    const std::vector<int32_t> prompt = model->tokenizer().encode("The quick brown fox", true);
    sq::GenerateOptions o;
    o.max_new_tokens = 10;
    o.stop_at_eos = false;
    const auto gen = model->generate({prompt}, o).front();
    QCOMPARE(int(gen.size()), 10);
    std::vector<int32_t> seq = prompt;
    for (int32_t t : gen) {
      QCOMPARE(argmax(model->logits(seq).back()), t);
      seq.push_back(t);
    }
  }

  // Attention in blocks of query rows, each against only the keys its rows may see, equals one
  // product over every score, and a reference written out position by position in float64: with
  // grouped-query heads, left padding in one row of the batch, and 100 cached positions before
  // 600 queries. Gradients agree too (block learning trains through it).
  void attentionInBlocksEqualsOneProduct() {
    torch::manual_seed(5);
    const int64_t B = 2, H = 4, Hkv = 2, T = 600, S = 700, D = 16, pad = 250;
    const torch::Tensor q0 = torch::randn({B, H, T, D}), k = torch::randn({B, Hkv, S, D}), v = torch::randn({B, Hkv, S, D});
    torch::Tensor key_mask = torch::ones({B, S}, torch::kBool);
    key_mask[1].narrow(0, 0, pad).fill_(false);
    const auto run = [&](int64_t budget, torch::Tensor* grad) {
      const torch::Tensor q = q0.clone().requires_grad_(true);
      const torch::Tensor out = sq::causal_attention(q, k, v, key_mask, budget);
      out.pow(2).sum().backward();
      *grad = q.grad();
      return out.detach();
    };
    torch::Tensor g_one, g_rows, g_row;
    const torch::Tensor one = run(B * H * T * S, &g_one);
    const torch::Tensor rows37 = run(B * H * S * 37, &g_rows);
    const torch::Tensor row1 = run(1, &g_row);
    QVERIFY(torch::allclose(rows37, one, 1e-5, 1e-6));
    QVERIFY(torch::allclose(row1, one, 1e-5, 1e-6));
    QVERIFY(torch::allclose(g_rows, g_one, 1e-4, 1e-5));
    QVERIFY(torch::allclose(g_row, g_one, 1e-4, 1e-5));

    // The reference: query t (position S - T + t) over the real keys up to it, and itself.
    const auto q64 = q0.to(torch::kFloat64), k64 = k.to(torch::kFloat64), v64 = v.to(torch::kFloat64);
    for (int64_t b : {int64_t(0), int64_t(1)})
      for (int64_t t : {int64_t(0), int64_t(1), int64_t(149), int64_t(150), int64_t(151), int64_t(599)}) {
        const int64_t pos = S - T + t;
        std::vector<int64_t> seen;
        for (int64_t s = 0; s <= pos; ++s)
          if (key_mask[b][s].item<bool>() || s == pos) seen.push_back(s);
        const torch::Tensor idx = torch::tensor(seen);
        for (int64_t h = 0; h < H; ++h) {
          const torch::Tensor keys = k64[b][h / (H / Hkv)].index_select(0, idx), values = v64[b][h / (H / Hkv)].index_select(0, idx);
          const torch::Tensor w = torch::softmax(keys.matmul(q64[b][h][t]) / std::sqrt(double(D)), 0);
          const torch::Tensor want = w.matmul(values).to(torch::kFloat32);
          QVERIFY(torch::allclose(row1[b][t].narrow(0, h * D, D), want, 1e-4, 1e-5));
          QVERIFY(torch::allclose(one[b][t].narrow(0, h * D, D), want, 1e-4, 1e-5));
        }
      }
  }

  // A whole model in small blocks (attention 700 scores, MLP 3 tokens at a time) computes what it
  // computes in one: logits of a left-padded batch of long prompts, and what every hook sees,
  // the down projection's input whole included.
  void forwardInBlocksEqualsOneBlock() {
    TinySpec s;
    s.layers = 2;
    s.bf16 = true;
    writeTinyModel(dir("blocks"), s);
    auto weights = std::make_shared<const sq::Checkpoint>(dir("blocks"));
    const sq::ModelConfig c = sq::load_config(dir("blocks") + "/config.json");
    const sq::Llama whole(c, weights, torch::kCPU);
    sq::Llama blocks(c, weights, torch::kCPU);
    blocks.set_block_limits(700, 3 * 2 * c.intermediate_size);
    std::vector<std::vector<int32_t>> prompts(2);
    for (int i = 0; i < 300; ++i) prompts[0].push_back(int32_t((i * 37) % 250 + 1));
    for (int i = 0; i < 170; ++i) prompts[1].push_back(int32_t((i * 11) % 250 + 1));
    const sq::Llama::Batch b = sq::Llama::left_padded(prompts, 2, torch::kCPU).front();
    std::map<std::string, torch::Tensor> seen_whole, seen_blocks;
    auto keep = [](std::map<std::string, torch::Tensor>& into) {
      return [&into](const std::string& name, const torch::Tensor& v) { into[name] = v.clone(); };
    };
    torch::NoGradGuard no_grad;
    const torch::Tensor a = whole.forward(b.tokens, b.mask, nullptr, keep(seen_whole));
    const torch::Tensor z = blocks.forward(b.tokens, b.mask, nullptr, keep(seen_blocks));
    const torch::Tensor real = b.mask.to(torch::kBool);
    // Where bf16 weights meet activations rounded to bf16, a sum's last bit, moved by the order
    // of summation, can move a rounding in the next layer: agreement within that rounding.
    QVERIFY(torch::allclose(a.index({real}), z.index({real}), 1e-4, bf16_tolerance(a.abs().max().item<double>())));
    QCOMPARE(seen_blocks.size(), seen_whole.size());
    for (const auto& [name, v] : seen_whole) {
      QCOMPARE(seen_blocks.at(name).sizes(), v.sizes());
      QVERIFY2(torch::allclose(seen_blocks.at(name).index({real}), v.index({real}), 1e-4, bf16_tolerance(v.abs().max().item<double>())),
               name.c_str());
    }
  }

  // Batches of similar lengths: every prompt once, shortest first, at most batch_size a batch, and
  // none padded past 1.25 times its real tokens unless it holds one prompt.
  void lengthBatchesBoundPadding() {
    std::vector<std::vector<int32_t>> prompts;
    for (size_t n : {1000, 10, 12, 11, 500, 13, 14, 15, 16, 17, 600, 700}) prompts.emplace_back(n, 5);
    const auto batches = sq::length_batches(prompts, 4);
    const std::vector<std::vector<size_t>> want = {{1, 3, 2, 5}, {6, 7, 8, 9}, {4, 10, 11}, {0}};
    QCOMPARE(batches, want);
    for (const auto& b : batches) {
      size_t real = 0, longest = 0;
      for (size_t i : b) real += prompts[i].size(), longest = std::max(longest, prompts[i].size());
      QVERIFY(b.size() == 1 || double(longest * b.size()) <= 1.25 * double(real));
    }
    QVERIFY(sq::length_batches({}, 4).empty());
  }

  void batchEqualsSingles() {
    TinySpec s;
    s.seed = 3;
    writeTinyModel(dir("batch"), s);
    const auto model = sq::Model::load(dir("batch"));
    const std::vector<std::vector<int32_t>> prompts = {
        model->tokenizer().encode("Hi", true), model->tokenizer().encode("A longer prompt here", true),
        model->tokenizer().encode("Medium one", true)};
    sq::GenerateOptions o;
    o.max_new_tokens = 8;
    o.stop_at_eos = false;
    const auto batch = model->generate(prompts, o);
    for (size_t i = 0; i < prompts.size(); ++i) QCOMPARE(batch[i], model->generate({prompts[i]}, o).front());
  }

  void seededSamplingIsDeterministic() {
    TinySpec s;
    writeTinyModel(dir("sample"), s);
    const auto model = sq::Model::load(dir("sample"));
    sq::GenerateOptions o;
    o.max_new_tokens = 12;
    o.stop_at_eos = false;
    o.temperature = 1.0;
    o.top_p = 0.9;
    o.seed = 42;
    const auto p = model->tokenizer().encode("seed", true);
    const auto a = model->generate({p}, o).front();
    QCOMPARE(model->generate({p}, o).front(), a);
    o.seed = 43;
    QVERIFY(model->generate({p}, o).front() != a);
  }

  void bf16AndF32Agree() {
    TinySpec s;
    s.seed = 5;
    writeTinyModel(dir("f32"), s);
    s.bf16 = true;
    writeTinyModel(dir("bf16"), s);
    // A few tokens go through the half-precision kernel, 32 or more through fp32 slices of
    // each weight: both give the f32 copy's logits.
    std::vector<int32_t> t = {257, 72, 101, 108, 108, 111};
    // Where the CPU multiplies bf16 with bf16 dot products, the activations are rounded to bf16
    // first: agreement within that rounding.
    const auto f32 = sq::Model::load(dir("f32")), bf16 = sq::Model::load(dir("bf16"));
    auto agree = [&] {
      const auto want = f32->logits(t);
      float largest = 0.f;
      for (const auto& row : want)
        for (float v : row) largest = std::max(largest, std::fabs(v));
      return max_abs_diff(want, bf16->logits(t)) < bf16_tolerance(largest);
    };
    QVERIFY(agree());
    while (t.size() < 40) t.push_back(int32_t(t.size() * 7 % 250));
    QVERIFY(agree());
  }

  void shardsEqualOneFile() {
    TinySpec s;
    s.seed = 7;
    writeTinyModel(dir("one"), s);
    s.shards = 3;
    writeTinyModel(dir("three"), s);
    QVERIFY(std::filesystem::exists(dir("three") + "/model.safetensors.index.json"));
    const std::vector<int32_t> t = {257, 1, 2, 3};
    QCOMPARE(max_abs_diff(sq::Model::load(dir("one"))->logits(t), sq::Model::load(dir("three"))->logits(t)), 0.f);
  }

  void onloadedForwardEqualsResident() {
    TinySpec s;
    s.layers = 3;
    s.bf16 = true;
    writeTinyModel(dir("onload"), s);
    auto weights = std::make_shared<const sq::Checkpoint>(dir("onload"));
    const sq::Llama net(sq::load_config(dir("onload") + "/config.json"), weights, torch::kCPU);
    const torch::Tensor tokens = torch::tensor(std::vector<int64_t>{257, 5, 9, 44, 3}).unsqueeze(0);
    const torch::Tensor resident = net.forward(tokens, {}, nullptr);
    std::vector<std::string> stages;
    sq::Progress progress;
    progress.report = [&](int64_t, int64_t, const std::string& stage) { stages.push_back(stage); };
    const auto hidden = net.forward_layerwise({{tokens, {}}}, nullptr, progress, true);
    QVERIFY(torch::equal(net.logits(hidden[0]), resident));
    QCOMPARE(int(stages.size()), 4);  // one report per layer, then one at the end
    // The released pages are read again on the next use: the model still computes the same.
    QVERIFY(torch::equal(net.forward(tokens, {}, nullptr), resident));
  }

  void captureIsBatchAndOnloadInvariant() {
    TinySpec s;
    s.seed = 11;
    writeTinyModel(dir("capture"), s);
    const auto model = sq::Model::load(dir("capture"));
    std::vector<std::vector<int32_t>> prompts;
    for (const char* p : {"How do I bake bread?", "Hi", "A somewhat longer prompt, with commas."})
      prompts.push_back(model->tokenizer().encode(p, true));
    sq::CaptureOptions one;
    one.batch_size = 1;
    one.onload = false;
    sq::CaptureOptions all;
    all.batch_size = 3;
    all.points = {"layer.0", "layer.1", "layer.1.mlp"};
    const sq::Activations a = model->capture(prompts, one), b = model->capture(prompts, all);
    QCOMPARE(a.points.size(), size_t(2));
    QCOMPARE(a.n, int64_t(3));
    for (const std::string p : {"layer.0", "layer.1"})
      for (size_t i = 0; i < a.last.at(p).size(); ++i) {
        QVERIFY(std::fabs(a.last.at(p)[i] - b.last.at(p)[i]) < 1e-4f);
        QVERIFY(std::fabs(a.mean.at(p)[i] - b.mean.at(p)[i]) < 1e-4f);
      }
    // The last token of a prompt run alone is the last row of its sequence.
    const auto single = model->capture({prompts[1]}, one);
    QCOMPARE(single.last.at("layer.1"), std::vector<float>(a.last.at("layer.1").begin() + s.hidden,
                                                           a.last.at("layer.1").begin() + 2 * s.hidden));
    sq::CaptureOptions bad;
    bad.points = {"layer.9"};
    QVERIFY(errorOf([&] { model->capture(prompts, bad); }).contains("unknown hook point 'layer.9'"));
    QVERIFY(errorOf([&] { model->capture({}, one); }).contains("no prompts"));
    sq::CancelToken cancel;
    cancel.cancel();
    sq::CaptureOptions cancelled;
    cancelled.progress.cancel = &cancel;
    QVERIFY_THROWS_EXCEPTION(sq::Cancelled, model->capture(prompts, cancelled));
    sq::CaptureOptions inner;
    inner.points = {"layer.1.down_in"};
    QVERIFY(errorOf([&] { model->capture(prompts, inner); }).contains("intermediate_size wide"));
  }

  // Each channel's mean |activation| over every real token equals the mean over every prefix of
  // |its last token's state| (causal attention: a prefix's last state is the prompt's state at
  // that position), whatever the batching and left padding; the MLP's inner width is kept.
  void channelMagnitudesCountEveryRealToken() {
    TinySpec s;
    s.seed = 12;
    writeTinyModel(dir("magnitudes"), s);
    const auto model = sq::Model::load(dir("magnitudes"));
    std::vector<std::vector<int32_t>> prompts, prefixes;
    for (const char* p : {"How do I bake bread?", "Hi", "A somewhat longer prompt, with commas."}) {
      prompts.push_back(model->tokenizer().encode(p, true));
      for (size_t n = 1; n <= prompts.back().size(); ++n) prefixes.emplace_back(prompts.back().begin(), prompts.back().begin() + n);
    }
    sq::CaptureOptions o;
    o.batch_size = 2;
    o.points = {"layer.0.qkv_in", "layer.1.o_in", "layer.1.down_in"};
    const sq::ChannelMagnitudes m = model->channel_magnitudes(prompts, o);
    QCOMPARE(m.tokens, int64_t(prefixes.size()));
    QCOMPARE(m.mean_abs.at("layer.1.down_in").size(), size_t(s.intermediate));
    sq::CaptureOptions by_prefix;
    by_prefix.batch_size = 4;
    by_prefix.points = {"layer.0.qkv_in", "layer.1.o_in"};
    const sq::Activations a = model->capture(prefixes, by_prefix);
    for (const std::string p : {"layer.0.qkv_in", "layer.1.o_in"})
      for (int64_t c = 0; c < s.hidden; ++c) {
        double sum = 0;
        for (int64_t i = 0; i < a.n; ++i) sum += std::fabs(a.last.at(p)[size_t(i * s.hidden + c)]);
        const double want = sum / double(a.n), got = m.mean_abs.at(p)[size_t(c)];
        QVERIFY2(std::fabs(got - want) <= 1e-4 * std::max(1.0, want), qPrintable(QStringLiteral("%1 channel %2: %3 vs %4")
                                                                                  .arg(QString::fromStdString(p)).arg(c).arg(got).arg(want)));
      }
    sq::CaptureOptions none;
    QVERIFY(errorOf([&] { model->channel_magnitudes(prompts, none); }).contains("no hook points"));
    QVERIFY(errorOf([&] { model->channel_magnitudes({}, o); }).contains("no prompts"));
    QVERIFY(errorOf([&] { model->channel_magnitudes({std::vector<int32_t>(5000, 1)}, o); }).contains("exceeds the model's context"));
  }

  void corruptSafetensorsRefused_data() {
    QTest::addColumn<QString>("header");
    QTest::addColumn<int>("dataBytes");
    QTest::addColumn<qulonglong>("declared");
    QTest::addColumn<QString>("message");
    const char* ok = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    QTest::newRow("too long header") << QString("{%1}").arg(ok) << 8 << qulonglong(10000) << "runs past the end";
    QTest::newRow("huge header") << QString("{%1}").arg(ok) << 8 << qulonglong(1ull << 40) << "exceeds the 100 MB bound";
    QTest::newRow("bad json") << QString("{\"a\":") << 8 << qulonglong(0) << "not valid JSON";
    QTest::newRow("dtype") << QString(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})") << 8 << qulonglong(0) << "unsupported dtype 'Q4'";
    QTest::newRow("size") << QString(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})") << 8 << qulonglong(0) << "but its byte range holds 8";
    QTest::newRow("outside") << QString(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})") << 8 << qulonglong(0) << "lie outside";
    QTest::newRow("overlap") << QString(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})") << 12 << qulonglong(0) << "overlap";
    QTest::newRow("shape") << QString(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})") << 8 << qulonglong(0) << "invalid shape";
    QTest::newRow("duplicate name") << QString(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})")
                                    << 16 << qulonglong(0) << "the key \"a\" appears twice";
    QTest::newRow("nested 100000 deep") << QString("{\"__metadata__\":%1%2}").arg(QString(100000, '['), QString(100000, ']')) << 8
                                        << qulonglong(0) << "nested deeper than 256 levels";
  }
  void corruptSafetensorsRefused() {
    QFETCH(QString, header);
    QFETCH(int, dataBytes);
    QFETCH(qulonglong, declared);
    QFETCH(QString, message);
    const std::string path = dir("corrupt.safetensors");
    writeRaw(path, header.toStdString(), size_t(dataBytes), declared);
    const QString err = errorOf([&] { sq::SafetensorsFile f(path); });
    QVERIFY2(err.startsWith(QString::fromStdString(path)) && err.contains(message), qPrintable(err));
  }

  void truncatedFileRefused() {
    const std::string path = dir("short.safetensors");
    std::ofstream(path) << "abc";
    QVERIFY(errorOf([&] { sq::SafetensorsFile f(path); }).contains(QStringLiteral("shorter than its 8-byte header")));
  }

  void missingAndMisshapenTensorsNamed() {
    TinySpec s;
    s.tied = true;  // no lm_head.weight in the file
    writeTinyModel(dir("untie"), s);
    std::string cfg;
    {
      std::ifstream in(dir("untie") + "/config.json");
      cfg.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto j = nlohmann::json::parse(cfg);
    j["tie_word_embeddings"] = false;
    std::ofstream(dir("untie") + "/config.json") << j.dump();
    // Named where it should have been, and why config.json wants it.
    const QString missing = errorOf([&] { sq::Model::load(dir("untie")); });
    QVERIFY2(missing.contains(QStringLiteral("untie/model.safetensors: no tensor 'lm_head.weight', which the model config.json describes has "
                                             "(tie_word_embeddings is false)")),
             qPrintable(missing));
    j["tie_word_embeddings"] = true;
    j["intermediate_size"] = 48;
    std::ofstream(dir("untie") + "/config.json") << j.dump();
    const QString err = errorOf([&] { sq::Model::load(dir("untie")); });
    QVERIFY2(err.contains(QStringLiteral("'model.layers.0.mlp.gate_proj.weight' has shape [64, 32], where config.json gives [48, 32]")),
             qPrintable(err));
    // Numbers no model has are refused by key.
    j["intermediate_size"] = 64;
    for (const auto& [key, value, message] : {std::tuple<const char*, double, const char*>{"rms_norm_eps", 0.5, "a norm's epsilon is a small number"},
                                             {"rope_theta", 0.5, "RoPE's base must exceed 1"}}) {
      auto bad = j;
      bad[key] = value;
      std::ofstream(dir("untie") + "/config.json") << bad.dump();
      const QString e = errorOf([&] { sq::Model::load(dir("untie")); });
      QVERIFY2(e.contains(QStringLiteral("config.json: field '") + key) && e.contains(QString::fromUtf8(message)), qPrintable(e));
    }
  }

  void configRefusals_data() {
    QTest::addColumn<QString>("patch");
    QTest::addColumn<QString>("message");
    QTest::newRow("model_type") << R"({"model_type":"gpt_neox"})" << "unsupported model_type 'gpt_neox'";
    QTest::newRow("rope") << R"({"rope_scaling":{"rope_type":"yarn","factor":4}})" << "unsupported rope_scaling type 'yarn'";
    QTest::newRow("act") << R"({"hidden_act":"gelu"})" << "unsupported hidden_act 'gelu'";
    QTest::newRow("heads") << R"({"num_key_value_heads":3})" << "not a multiple of num_key_value_heads 3";
    QTest::newRow("missing") << R"({"hidden_size":null})" << "missing field 'hidden_size'";
    QTest::newRow("a billion layers") << R"({"num_hidden_layers":1000000000})" << "'num_hidden_layers' is 1000000000, beyond the 1024";
    QTest::newRow("vocab 2^32") << R"({"vocab_size":4294967295})" << "'vocab_size' is 4294967295, beyond";
    QTest::newRow("rope_theta") << R"({"rope_theta":0})" << "'rope_theta' must be positive";
    QTest::newRow("rms_norm_eps") << R"({"rms_norm_eps":-1e-6})" << "'rms_norm_eps' must be positive";
    QTest::newRow("rope factor") << R"({"rope_scaling":{"type":"linear","factor":-2}})" << "'rope_scaling.factor' must be positive";
    QTest::newRow("value nested 100000 deep") << QString(R"({"x":%1%2})").arg(QString(100000, '['), QString(100000, ']'))
                                              << "nested deeper than 256 levels";
    QTest::newRow("long value") << QString(R"({"hidden_size":"%1"})").arg(QString(5000, 'x')) << "must be a positive integer, got \"xxxx";
  }
  void configRefusals() {
    QFETCH(QString, patch);
    QFETCH(QString, message);
    nlohmann::json base = {{"model_type", "llama"}, {"vocab_size", 10}, {"hidden_size", 8}, {"intermediate_size", 16},
                           {"num_hidden_layers", 1}, {"num_attention_heads", 2}};
    // A new key nested 100,000 levels deep is spliced in as text, never built as a value here.
    std::string text;
    if (patch.size() > 100000) {
      text = base.dump();
      text.pop_back();
      text += "," + patch.toStdString().substr(1);
    } else {
      base.merge_patch(nlohmann::json::parse(patch.toStdString()));
      text = base.dump();
    }
    const QString err = errorOf([&] { sq::parse_config(text, "cfg/config.json"); });
    QVERIFY2(err.startsWith(QStringLiteral("cfg/config.json: ")) && err.contains(message) && err.size() < 400, qPrintable(err.left(400)));
  }

  void ropeScalingsRead() {
    const auto c = sq::parse_config(
        R"({"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
            "num_attention_heads":2,"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,
            "high_freq_factor":4.0,"original_max_position_embeddings":8192},"eos_token_id":[1,2]})",
        "x");
    QCOMPARE(QString::fromStdString(c.rope_scaling.type), QStringLiteral("llama3"));
    QCOMPARE(c.rope_scaling.factor, 8.0);
    QCOMPARE(c.eos_token_ids, (std::vector<int64_t>{1, 2}));
  }

  // Files that used to be taken silently, hang or exhaust memory: each refused by name, at once.
  void hostileModelFilesRefused() {
    namespace fs = std::filesystem;
    TinySpec s;
    const std::string base = dir("hostile");
    writeTinyModel(base, s);
    auto copy = [&](const char* name) { return copyOf(base, name); };
    // NaN weights: every logit would be NaN; the error says where to look.
    {
      const std::string d = copy("nan");
      std::fstream f(d + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
      uint64_t n = 0;
      f.read(reinterpret_cast<char*>(&n), 8);
      const auto size = fs::file_size(d + "/model.safetensors");
      const float nan = std::numeric_limits<float>::quiet_NaN();
      f.seekp(std::streamoff(8 + n));
      for (uint64_t at = 8 + n; at + 4 <= size; at += 4) f.write(reinterpret_cast<const char*>(&nan), 4);
      f.close();
      QVERIFY(errorOf([&] { sq::Model::load(d)->logits({1, 2, 3}); }).contains("logits hold NaN or infinity"));
    }
    // A prompt beyond the context is refused, not run at positions the model never saw.
    {
      const std::string d = copy("short-context");
      auto cfg = nlohmann::json::parse(std::ifstream(d + "/config.json"));
      cfg["max_position_embeddings"] = 4;
      std::ofstream(d + "/config.json") << cfg.dump();
      const auto m = sq::Model::load(d);
      QVERIFY(errorOf([&] { m->logits({1, 2, 3, 4, 5}); }).contains("a prompt of 5 tokens exceeds the model's context of 4"));
      sq::GenerateOptions g;
      g.max_new_tokens = 3;
      QVERIFY(errorOf([&] { m->generate({{1, 2}}, g); }).contains("a prompt of 2 tokens and 3 new ones exceed"));
      // Or, when asked, cut to the context: the prompts keep their last tokens.
      const std::vector<sq::Prompt> prompts = {{"b1", "Say hello to everyone in the room", "demo", "", "", 0},
                                               {"m1", "Another rather long request here", "demo", "", "", 1}};
      sq::EvalOptions eo;
      eo.max_new_tokens = 2;
      QVERIFY(errorOf([&] { sq::evaluate(*m, prompts, sq::RefusalMatcher::shipped_default(), eo); }).contains("--truncate"));
      eo.truncate = true;
      const sq::EvalReport r = sq::evaluate(*m, prompts, sq::RefusalMatcher::shipped_default(), eo);
      QCOMPARE(r.truncated, size_t(2));
      QCOMPARE(nlohmann::json::parse(sq::to_json(r))["truncated_prompts"].get<int>(), 2);
      eo.max_new_tokens = 4;
      QVERIFY(errorOf([&] { sq::evaluate(*m, prompts, sq::RefusalMatcher::shipped_default(), eo); }).contains("leave no room"));
    }
    // A FIFO where the weights should be: refused at once instead of waiting for a writer.
    {
      const std::string d = copy("fifo");
      fs::remove(d + "/model.safetensors");
      QVERIFY(::mkfifo((d + "/model.safetensors").c_str(), 0600) == 0);
      QVERIFY(errorOf([&] { sq::Model::load(d); }).contains("model.safetensors: not a regular file"));
    }
    // Vocabulary ids that are not whole numbers within reach of the vocabulary's size.
    {
      auto tok = nlohmann::json::parse(std::ifstream(base + "/tokenizer.json"));
      for (const nlohmann::json& bad : {nlohmann::json(int64_t(1) << 26), nlohmann::json(int64_t(1) << 40), nlohmann::json(1.5),
                                       nlohmann::json(-1)}) {
        auto t = tok;
        t["model"]["vocab"]["a"] = bad;
        QVERIFY2(errorOf([&] { sq::Tokenizer::from_json(t.dump(), "tok.json"); }).contains("token 'a' has id " + QString::fromStdString(bad.dump())),
                 bad.dump().c_str());
      }
    }
    // The list form of chat_template: the one named "default" is used.
    {
      const std::string d = copy("list-template");
      const nlohmann::json cfg = {{"chat_template",
                                   {{{"name", "tool_use"}, {"template", "{{ tools }}"}},
                                    {{"name", "default"},
                                     {"template", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                                                  "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"}}}}};
      std::ofstream(d + "/tokenizer_config.json") << cfg.dump();
      QCOMPARE(QString::fromStdString(sq::detect_chat_template(d).render("q")),
               QStringLiteral("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"));
    }
  }

  // The classes a campaign of corrupt files found taken silently, unbounded or unclear: each is
  // refused naming the file and what is wrong, with any echoed value cut short.
  void hostileFilesNamedAndBounded() {
    namespace fs = std::filesystem;
    TinySpec s;
    const std::string base = dir("hostile2");
    writeTinyModel(base, s);
    auto copy = [&](const char* name) { return copyOf(base, name); };
    const auto tok = nlohmann::json::parse(std::ifstream(base + "/tokenizer.json"));
    // Tokenizer chains whose output grows exponentially stop at 16 times the text.
    {
      auto t = tok;
      nlohmann::json chain = nlohmann::json::array();
      for (int i = 0; i < 40; ++i) chain.push_back({{"type", "Replace"}, {"pattern", {{"String", "l"}}}, {"content", "lll"}});
      t["normalizer"] = {{"type", "Sequence"}, {"normalizers", chain}};
      const sq::Tokenizer k = sq::Tokenizer::from_json(t.dump(), "chain/tokenizer.json");
      const QString err = errorOf([&] { k.encode("hello world"); });
      QVERIFY2(err.contains("chain/tokenizer.json") && err.contains("16 times") && err.contains("Replace"), qPrintable(err));
      auto u = tok;
      nlohmann::json stack = nlohmann::json::array();
      for (int i = 0; i < 200; ++i) stack.push_back({{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", false}});
      u["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", stack}};
      const sq::Tokenizer b = sq::Tokenizer::from_json(u.dump(), "stack/tokenizer.json");
      QVERIFY(errorOf([&] { b.encode("hello"); }).contains("ByteLevel"));
    }
    // Vocabularies that would tokenize to nothing or to one id for everything.
    {
      auto t = tok;
      t["model"]["vocab"] = nlohmann::json::object();
      t["model"]["merges"] = nlohmann::json::array();
      QVERIFY(errorOf([&] { sq::Tokenizer::from_json(t.dump(), "tok.json"); }).contains("tok.json: the vocabulary (model.vocab) is empty"));
      auto z = tok;
      for (auto& [k, v] : z["model"]["vocab"].items()) v = 0;
      QVERIFY(errorOf([&] { sq::Tokenizer::from_json(z.dump(), "tok.json"); }).contains("share id 0"));
    }
    // Post-processor special ids outside the vocabulary.
    for (const int64_t bad : {int64_t(2147483647), int64_t(-1)}) {
      auto t = tok;
      t["post_processor"] = {{"type", "TemplateProcessing"},
                             {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                             {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {bad}}, {"tokens", {"<s>"}}}}}}};
      const QString err = errorOf([&] { sq::Tokenizer::from_json(t.dump(), "tok.json"); });
      QVERIFY2(err.contains("tok.json") && err.contains("post_processor special token '<s>'"), qPrintable(err));
    }
    // num_hidden_layers against the checkpoint, both ways.
    for (const int layers : {1, 3}) {
      const std::string d = copy(layers == 1 ? "fewer-layers" : "more-layers");
      auto cfg = nlohmann::json::parse(std::ifstream(d + "/config.json"));
      cfg["num_hidden_layers"] = layers;
      std::ofstream(d + "/config.json") << cfg.dump();
      const QString err = errorOf([&] { sq::Model::load(d); });
      QVERIFY2(err.contains("config.json") && err.contains("num_hidden_layers is " + QString::number(layers)) &&
                   err.contains("holds 2 decoder layers"),
               qPrintable(err));
    }
    // Config values out of range, and an echoed value never whole.
    {
      auto cfg = nlohmann::json::parse(std::ifstream(base + "/config.json"));
      auto eos = cfg;
      eos["eos_token_id"] = 100000;
      QVERIFY(errorOf([&] { sq::parse_config(eos.dump(), "c/config.json"); }).contains("'eos_token_id' holds 100000, outside the vocabulary"));
      for (const int w : {0, -1}) {
        auto sw = cfg;
        sw["model_type"] = "mistral";
        sw["sliding_window"] = w;
        QVERIFY(errorOf([&] { sq::parse_config(sw.dump(), "c/config.json"); }).contains("'sliding_window' must be a positive integer"));
      }
      auto big = cfg;
      big["model_type"] = std::string(5 << 20, 'x');
      const QString err = errorOf([&] { sq::parse_config(big.dump(), "c/config.json"); });
      QVERIFY2(err.size() < 400 && err.contains("(5242880 bytes)"), qPrintable(err.left(400)));
    }
    // Token ids beyond the vocabulary name the model.
    {
      const auto m = sq::Model::load(base);
      QVERIFY(errorOf([&] { m->logits({1, 100000}); }).contains(QString::fromStdString(base) + ": token id 100000 is outside the vocabulary"));
    }
    // A GGUF value of the wrong kind names the file and the key.
    {
      const std::string path = dir("wrong-kind") + ".gguf";
      sq::write_gguf(path, {{"general.architecture", sq::GgufValue::string("llama")}, {"general.alignment", sq::GgufValue::string("32")}}, {});
      const QString err = errorOf([&] { sq::GgufFile g(path); });
      QVERIFY2(err.contains(QString::fromStdString(path)) && err.contains("metadata 'general.alignment'") && err.contains("not an integer"),
               qPrintable(err));
    }
    // A tensor shape whose byte count overflows is refused as too large, not read as 0 or -4 bytes.
    {
      const std::string path = dir("overflow") + ".safetensors";
      const std::string header = R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})";
      std::ofstream f(path, std::ios::binary);
      const uint64_t n = header.size();
      f.write(reinterpret_cast<const char*>(&n), 8);
      f << header;
      f.close();
      const QString err = errorOf([&] { sq::SafetensorsFile file(path); });
      QVERIFY2(err.contains("whose byte count overflows"), qPrintable(err));
    }
    // A chat template that alone outgrows the context is named, not the short prompt.
    {
      const std::string d = copy("bloated-template");
      std::ofstream(d + "/tokenizer_config.json")
          << nlohmann::json{{"chat_template", "{% for i in range(3000) %}pad {% endfor %}{{ messages[0]['content'] }}"}}.dump();
      const auto m = sq::Model::load(d);
      const QString err = errorOf([&] { sq::encode_prompts(*m, {sq::Prompt{"p", "hi", "", "", "", 0}}, sq::ChatSettings{}); });
      QVERIFY2(err.contains("tokenizer_config.json: the chat template turns a prompt of 2 bytes into"), qPrintable(err));
    }
  }

  void cliLogitsAndGenerate() {
    TinySpec s;
    writeTinyModel(dir("cli"), s);
    const QString m = QString::fromStdString(dir("cli"));
    CliResult r = runCli({"logits", "--model", m, "--tokens", "257,72,105"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    const QJsonArray rows = o.value("logits").toArray();
    QCOMPARE(rows.size(), 3);
    const auto direct = sq::Model::load(dir("cli"))->logits({257, 72, 105});
    QCOMPARE(rows.at(2).toArray().size(), int(direct[2].size()));
    QVERIFY(std::fabs(rows.at(2).toArray().at(5).toDouble() - double(direct[2][5])) < 1e-5);

    r = runCli({"generate", "--model", m, "--prompt", "Hello", "--max-new", "5", "--json"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QJsonObject g = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QCOMPARE(g.value("prompt_tokens").toArray().at(0).toInt(), 257);
    QVERIFY(g.value("tokens").toArray().size() <= 5);

    r = runCli({"generate", "--model", m, "--prompt", "hi", "--chat-template", "U: {prompt}\nA:", "--max-new", "2", "--json"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QJsonArray chat = QJsonDocument::fromJson(r.out.toUtf8()).object().value("prompt_tokens").toArray();
    QCOMPARE(chat.size(), 8);  // the byte-level tokenizer: one id per byte of "U: hi\nA:", no BOS
    QCOMPARE(chat.at(0).toInt(), int('U'));
    r = runCli({"generate", "--model", m, "--prompt", "hi", "--chat-template", "nothing to fill"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("{prompt}"));

    r = runCli({"logits", "--model", m, "--tokens", "1,x"});
    QCOMPARE(r.exitCode, 2);
    r = runCli({"logits", "--model", m, "--tokens", "99999"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("outside the vocabulary"));
    r = runCli({"logits", "--model", QString::fromStdString(dir("nowhere")), "--tokens", "1"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.err.contains("not a model folder"));
  }

  void cliTokenizeInputLines() {
    const QString file = tmp_.filePath("texts.txt");
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("Hello world\n\"two\\nlines\"\n");
    f.close();
    const CliResult r = runCli({"tokenize", "--tokenizer", SQ_SOURCE_DIR "/tests/data/tokenizers/gpt2/tokenizer.json", "--input", file});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QCOMPARE(r.out, QStringLiteral("[15496,995]\n[11545,198,6615]\n"));
  }

  // Threads follow the cores other processes leave free: with a busy loop on every core, one.
  // Last: from here on the count follows the machine.
  void threadsFitTheFreeCores() {
    if (qEnvironmentVariableIsSet("OMP_NUM_THREADS")) QSKIP("OMP_NUM_THREADS fixes the count here");
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    sq::start_thread_fitting();
    QCOMPARE(QString::fromUtf8(sq::thread_policy()), QStringLiteral("fitted to the free cores of %1").arg(cores));
    std::vector<std::unique_ptr<QProcess>> busy;
    for (int i = 0; i < cores; ++i) {
      busy.push_back(std::make_unique<QProcess>());
      busy.back()->start(QStringLiteral("/bin/sh"), {QStringLiteral("-c"), QStringLiteral("while :; do :; done")});
      QVERIFY(busy.back()->waitForStarted());
    }
    QTRY_COMPARE_WITH_TIMEOUT(sq::fitted_threads(), 1, 10000);
    sq::fit_threads();  // the compute thread applies it
    QCOMPARE(at::get_num_threads(), 1);
    for (auto& p : busy) p->kill(), p->waitForFinished();
  }
};

QTEST_GUILESS_MAIN(TstModel)
#include "tst_model.moc"
