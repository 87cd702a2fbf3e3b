// Mixed precision's first stage: the sensitivity table on the tiny zoo's aligned model. Every unit
// and option is measured, finite, and ordered as bits order it; the table reads back as written;
// bad options, a draw without both labels and cancellation are refused before anything is
// written; the command writes both files. The allocator is exact; a mixed run rounds each unit on
// its own scheme, records the plan, and loads the same on packed codes as fake-quantized.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/data/prompt_set.h"
#include "core/error.h"
#include "core/mixed/allocation.h"
#include "core/mixed/sensitivity.h"
#include "core/experiment/line_chart_svg.h"
#include "core/experiment/mixed_sweep.h"
#include "core/io/json_file.h"
#include "core/io/safetensors.h"
#include "core/io/torch_view.h"
#include "core/model/model.h"
#include "core/model/model_size.h"
#include "core/quant/quantizer.h"
#include "core/quantized/run_folder.h"
#include "tests/cli_runner.h"
#include "tests/error_text.h"
#include "tests/logit_diff.h"

namespace {
const std::string kZoo = SQ_BINARY_DIR "/zoo-tiny";
}

class TstMixed : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  sq::SensitivityOptions options() const {
    sq::SensitivityOptions o;
    o.options = {"w8a16-g32-sym", "w2a16-g32-sym"};
    o.prompts = sq::load_prompt_files({kZoo + "/data/calibration.jsonl"});
    o.samples = 24;
    o.response_tokens = 8;
    return o;
  }

 private Q_SLOTS:
  void measuresEveryUnit() {
    const sq::SensitivityTable t = sq::measure_sensitivity(kZoo + "/aligned", options());
    // Two layers of four groups, and the (tied) embedding.
    QCOMPARE(t.units.size(), size_t(9));
    QCOMPARE(t.units[0].name(), std::string("layer 0 qkv"));
    QCOMPARE(t.units[0].params.size(), size_t(3));
    QCOMPARE(t.units.back().name(), std::string("embed"));
    QCOMPARE(t.malicious + t.benign, 24);
    QVERIFY(t.refused > 0 && t.refused <= t.malicious);
    int refusals_lost = 0;
    for (size_t u = 0; u < t.units.size(); ++u) {
      const sq::SensitivityCell &w8 = t.cells[u][0], &w2 = t.cells[u][1];
      for (double v : {w8.safety_kl, w8.utility_kl, w2.safety_kl, w2.utility_kl, w8.refusal_change, w2.refusal_change})
        QVERIFY(std::isfinite(v));
      // KL is never negative, and 2-bit weights move the replies more than 8-bit ones, unit by unit.
      QVERIFY(w8.safety_kl >= 0 && w8.utility_kl >= 0);
      QVERIFY2(w2.safety_kl > w8.safety_kl && w2.utility_kl > w8.utility_kl, t.units[u].name().c_str());
      // Bytes as deployed: 2 bits plus a 16-bit scale per 32 weights, against 8 bits plus the same.
      QCOMPARE(w2.bytes, double(t.units[u].weights) * (2.0 / 8 + 2.0 / 32));
      QCOMPARE(w8.bytes, double(t.units[u].weights) * (8.0 / 8 + 2.0 / 32));
      if (w2.refusal_change < w8.refusal_change) ++refusals_lost;
    }
    // 2-bit weights make the model's own refusals less likely in most units.
    QVERIFY2(refusals_lost * 2 > int(t.units.size()), qPrintable(QString::number(refusals_lost)));

    const std::string dir = tmp_.filePath(QStringLiteral("table")).toStdString();
    sq::write_sensitivity(dir, t);
    const sq::SensitivityTable back = sq::read_sensitivity(dir);
    QCOMPARE(back.options, t.options);
    QCOMPARE(back.units.size(), t.units.size());
    for (size_t u = 0; u < t.units.size(); ++u) {
      QCOMPARE(back.units[u].name(), t.units[u].name());
      QCOMPARE(back.units[u].params, t.units[u].params);
      QCOMPARE(back.cells[u][1].safety_kl, t.cells[u][1].safety_kl);
      QCOMPARE(back.cells[u][1].refusal_change, t.cells[u][1].refusal_change);
    }
    QVERIFY(std::filesystem::exists(dir + "/sensitivity.csv"));
  }

  // Whole allocations on the same draw: all units at W2 move the replies more than all at W8, and
  // each allocation's bytes are its units' bytes in the table.
  void allocationsMeasuredWhole() {
    const sq::SensitivityTable t = sq::measure_sensitivity(kZoo + "/aligned", options());
    const std::vector<std::vector<size_t>> choices = {std::vector<size_t>(9, 0), std::vector<size_t>(9, 1)};
    const std::vector<sq::SensitivityCell> whole = sq::measure_allocations(kZoo + "/aligned", options(), choices);
    QCOMPARE(whole.size(), size_t(2));
    QVERIFY(whole[1].safety_kl > whole[0].safety_kl && whole[1].utility_kl > whole[0].utility_kl);
    for (size_t a = 0; a < 2; ++a) {
      double bytes = 0;
      for (size_t u = 0; u < t.units.size(); ++u) bytes += t.cells[u][choices[a][u]].bytes;
      QCOMPARE(whole[a].bytes, bytes);
    }
    QVERIFY(errorOf([&] { sq::measure_allocations(kZoo + "/aligned", options(), {{0, 1}}); }).contains("chooses for 2 units"));
  }

  // Spearman's rank correlation: 1 for any increasing relation, -1 for a decreasing one, ties at
  // their mean rank (a textbook case: 0.5), undefined for a constant series or too few points; and
  // the sweep's chart is an SVG with one line per series of several points.
  void sweepFigures() {
    QCOMPARE(sq::spearman({1, 2, 3, 4}, {10, 20, 35, 1000}), 1.0);
    QCOMPARE(sq::spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
    QVERIFY(std::abs(sq::spearman({1, 2, 2, 3}, {1, 3, 2, 4}) - 0.9486832980505138) < 1e-12);
    QVERIFY(std::isnan(sq::spearman({1, 1, 1}, {1, 2, 3})));
    QVERIFY(std::isnan(sq::spearman({1, 2}, {1, 2})));
    const std::string svg = tmp_.filePath(QStringLiteral("chart.svg")).toStdString();
    sq::write_line_chart_svg(svg, "t <&>", "x", "y", {{"a", {{1, 2}, {2, 3}, {3, 1}}, "#ff0000"}, {"b", {{2, 2}}, "#00ff00", true}});
    const std::string text = sq::read_text_file(svg);
    QVERIFY(text.rfind("<svg", 0) == 0 && text.find("</svg>") != std::string::npos);
    QVERIFY(text.find("t &lt;&amp;&gt;") != std::string::npos);
    size_t lines = 0;
    for (size_t at = text.find("<polyline"); at != std::string::npos; at = text.find("<polyline", at + 1)) ++lines;
    QCOMPARE(lines, size_t(1));  // "b" has one point: a marker, no line
    sq::MixedSweepOptions o;
    o.budget_bits.clear();
    o.out = tmp_.filePath(QStringLiteral("sweep")).toStdString();
    QVERIFY(errorOf([&] { sq::run_mixed_sweep(o); }).contains("no budgets"));
  }

  void refusesWhatItCannotMeasure() {
    sq::SensitivityOptions o = options();
    o.options = {"w4a4"};
    QVERIFY(errorOf([&] { sq::measure_sensitivity(kZoo + "/aligned", o); }).contains("quantizes activations"));
    o.options = {"w5a16-g48"};
    QVERIFY(errorOf([&] { sq::measure_sensitivity(kZoo + "/aligned", o); }).contains("unknown scheme"));
    o = options();
    std::vector<sq::Prompt> benign;
    for (const sq::Prompt& p : o.prompts)
      if (p.label == 0) benign.push_back(p);
    o.prompts = benign;
    const QString e = errorOf([&] { sq::measure_sensitivity(kZoo + "/aligned", o); });
    QVERIFY2(e.contains("malicious"), qPrintable(e));
    const std::string bad = tmp_.filePath(QStringLiteral("not-a-table")).toStdString();
    std::filesystem::create_directories(bad);
    QVERIFY(errorOf([&] { sq::read_sensitivity(bad); }).contains("sensitivity.json"));
    sq::CancelToken cancel;
    cancel.cancel();
    o = options();
    o.progress.cancel = &cancel;
    QVERIFY_THROWS_EXCEPTION(sq::Cancelled, sq::measure_sensitivity(kZoo + "/aligned", o));
  }

  // The knapsack is exact: on random tables of 6 units and 4 options, its choice within each
  // budget has the least loss of all 4^6 choices that fit (brute force), and never exceeds the
  // budget; the front's points fit their own budgets, cost more as they lose less, and a budget
  // below every unit's smallest option is refused naming what it needs.
  void allocationIsExact() {
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u01(0, 1);
    for (int trial = 0; trial < 20; ++trial) {
      sq::SensitivityTable t;
      t.options = {"w8", "w6", "w4", "w2"};
      for (int u = 0; u < 6; ++u) {
        t.units.push_back({u, sq::UnitGroup::Down, {"model.layers." + std::to_string(u) + ".mlp.down_proj.weight"}, 1024});
        std::vector<sq::SensitivityCell> cells;
        double kl = 0;
        for (int k = 0; k < 4; ++k) {
          kl += u01(rng) * 0.01;  // fewer bits, more loss
          cells.push_back({kl * (1 + u01(rng)), -kl, kl, double(1024 * (8 - 2 * k) / 8 + 64 * (1 + (trial + k) % 3))});
        }
        t.cells.push_back(cells);
      }
      for (double budget : {3000.0, 4000.0, 5200.0}) {
        const sq::Allocation a = sq::allocate_bits(t, budget, sq::AllocationObjective::Safety, 0.5);
        QVERIFY(a.bytes <= budget);
        double best = 1e300;
        for (int code = 0; code < 4096; ++code) {
          double bytes = 0, loss = 0;
          for (int u = 0, c = code; u < 6; ++u, c /= 4) {
            bytes += t.cells[size_t(u)][size_t(c % 4)].bytes;
            loss += t.cells[size_t(u)][size_t(c % 4)].safety_kl + 0.5 * t.cells[size_t(u)][size_t(c % 4)].utility_kl;
          }
          if (bytes <= budget) best = std::min(best, loss);
        }
        QCOMPARE(a.resolution >= 1, true);
        QVERIFY2(std::abs(a.predicted_safety_kl + 0.5 * a.predicted_utility_kl - best) < 1e-12,
                 qPrintable(QStringLiteral("trial %1, budget %2").arg(trial).arg(budget)));
      }
      const std::vector<sq::Allocation> front = sq::loss_bytes_front(t, sq::AllocationObjective::Safety, 0.5);
      QVERIFY(front.size() >= 2);
      for (size_t i = 1; i < front.size(); ++i) {
        QVERIFY(front[i].bytes >= front[i - 1].bytes);
        QVERIFY(front[i].predicted_safety_kl + 0.5 * front[i].predicted_utility_kl <=
                front[i - 1].predicted_safety_kl + 0.5 * front[i - 1].predicted_utility_kl + 1e-15);
      }
      QVERIFY(errorOf([&] { sq::allocate_bits(t, 100, sq::AllocationObjective::Safety, 1); }).contains("below the smallest option"));
    }
  }

  void command() {
    const QString out = tmp_.filePath(QStringLiteral("cli"));
    const CliResult r = runCli({"sensitivity", "--model", QString::fromStdString(kZoo + "/aligned"), "--data",
                                QString::fromStdString(kZoo + "/data/calibration.jsonl"), "--samples", "16", "--tokens", "4",
                                "--options", "w8a16-g32-sym,w3a16-g32-sym", "--no-embeddings", "--out", out});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY(r.err.contains(QStringLiteral("layer 1 down")));
    QVERIFY(!r.err.contains(QStringLiteral("embed ")));
    const sq::SensitivityTable t = sq::read_sensitivity(out.toStdString());
    QCOMPARE(t.units.size(), size_t(8));
    QCOMPARE(t.options.size(), size_t(2));
    const CliResult none = runCli({"sensitivity", "--model", QString::fromStdString(kZoo + "/aligned"), "--out", out});
    QVERIFY(none.exitCode != 0 && none.err.contains(QStringLiteral("--data")));
    // allocate reads the table and writes an allocation that reads back against it.
    const CliResult alloc = runCli({"allocate", "--sensitivity", out, "--budget-bits", "5"});
    QVERIFY2(alloc.exitCode == 0, qPrintable(alloc.err));
    const sq::Allocation a = sq::read_allocation((out + QStringLiteral("/allocation.json")).toStdString());
    QCOMPARE(a.choice.size(), size_t(8));
    QVERIFY(a.bits_per_weight <= 5.0 + 1e-9);
    const CliResult front = runCli({"allocate", "--sensitivity", out, "--front"});
    QVERIFY(front.exitCode == 0 && front.out.startsWith(QStringLiteral("bytes,bits_per_weight")));
  }
  // A plan of four kinds of grid (symmetric, asymmetric, Q8_0, and 2 to 8 bits) over the tiny
  // model's units, the embedding included: each weight is stored as its own scheme rounds it
  // (the same values as rounding it alone), run.json keeps the plan, and the model computes the
  // same on packed codes as fake-quantized.
  void quantizesTheMix() {
    const std::string model = kZoo + "/aligned";
    const char* schemes[] = {"w8a16-g32-sym", "w3a16-g32-sym", "w4a16-g32-asym", "gguf-q8_0", "w2a16-g32-sym", "w6a16-g64-asym",
                             "w4a16-g32-sym", "w8a16-g32-sym"};
    std::vector<sq::MixUnit> units;
    for (int i = 0; i < 2; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      units.push_back({"layer " + std::to_string(i) + " qkv", schemes[4 * i],
                       {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"}});
      units.push_back({"layer " + std::to_string(i) + " o", schemes[4 * i + 1], {p + "self_attn.o_proj.weight"}});
      units.push_back({"layer " + std::to_string(i) + " gate_up", schemes[4 * i + 2], {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}});
      units.push_back({"layer " + std::to_string(i) + " down", schemes[4 * i + 3], {p + "mlp.down_proj.weight"}});
    }
    units.push_back({"embed", "w6a16-g32-sym", {"model.embed_tokens.weight"}});
    sq::QuantizeOptions o;
    o.mix = sq::make_scheme_mix("by hand", 0, 0, units);
    const std::string run = tmp_.filePath(QStringLiteral("run-mixed")).toStdString();
    sq::quantize_model(model, o, run);

    const sq::QuantRun r = sq::read_quant_run(run);
    QCOMPARE(r.scheme.name, std::string("mixed"));
    QVERIFY(r.mix.has_value());
    QCOMPARE(r.mix->units.size(), units.size());
    QCOMPARE(r.mix->units[4].scheme, std::string("w2a16-g32-sym"));
    QCOMPARE(r.scheme_for("model.layers.1.self_attn.v_proj.weight")->name, std::string("w2a16-g32-sym"));
    QVERIFY(r.scheme_for("model.norm.weight") == nullptr);
    const sq::Checkpoint ckpt(model);
    const auto stored = sq::read_quant_weights(r);
    QCOMPARE(stored.size(), size_t(15));  // 14 linears and the embedding
    for (const sq::MixUnit& u : units)
      for (const std::string& name : u.params) {
        const auto direct = sq::quantize_weight(sq::as_tensor(ckpt.tensor(name)).to(torch::kFloat32), sq::parse_scheme(u.scheme));
        QVERIFY2(torch::equal(stored.at(name), direct.dequant), name.c_str());
      }

    // Its deployed size counts each weight on its unit's scheme, the rest in 16 bits.
    const sq::ModelConfig config = sq::load_config(model + "/config.json");
    double expected = 0;
    for (const sq::ParamSpec& spec : sq::parameter_specs(config)) {
      const auto s = r.mix->schemes.find(spec.name);
      expected += s != r.mix->schemes.end() ? sq::quantized_weight_bytes(s->second, spec.shape[0], spec.shape[1])
                                            : 2.0 * double(spec.shape[0] * (spec.shape.size() > 1 ? spec.shape[1] : 1));
    }
    QCOMPARE(sq::quantized_model_bytes(config, r.scheme, r.mix), expected);

    const auto on_codes = sq::Model::load(model, run), fake = sq::Model::load(model, run, false, {}, sq::QuantExecution::FakeQuant);
    QVERIFY(on_codes->packed_linears().first > 0);
    const auto tokens = on_codes->tokenizer().encode("<|im_start|>user\nHow do I bake bread?<|im_end|>\n<|im_start|>assistant\n");
    const auto a = on_codes->logits(tokens), b = fake->logits(tokens), full = sq::Model::load(model)->logits(tokens);
    QVERIFY2(max_abs_diff(a, b) < 1e-3, qPrintable(QString::number(max_abs_diff(a, b))));
    QVERIFY(max_abs_diff(b, full) > 1e-3);  // and it is not the full-precision model

    // A plan GPTQ cannot follow (a K-quant unit), one naming a weight the model lacks, and one with
    // quantized activations are refused before any work.
    sq::QuantizeOptions g;
    g.method = sq::QuantMethod::Gptq;
    units[0].scheme = "gguf-q4_k";
    g.mix = sq::make_scheme_mix("by hand", 0, 0, units);
    QVERIFY(errorOf([&] { sq::quantize_model(model, g, run + "-gptq"); }).contains("K-quant"));
    QVERIFY(!std::filesystem::exists(run + "-gptq"));
    o.mix = sq::make_scheme_mix("by hand", 0, 0, {{"head", "w8a16-g32-sym", {"lm_head.weight"}}});
    QVERIFY(errorOf([&] { sq::quantize_model(model, o, run + "-head"); }).contains("'lm_head.weight', which is not a weight"));
    QVERIFY(errorOf([&] { sq::make_scheme_mix("", 0, 0, {{"embed", "w8a8", {"model.embed_tokens.weight"}}}); }).contains("quantizes activations"));
    QVERIFY(errorOf([&] { sq::make_scheme_mix("", 0, 0, {{"a", "w8a16", {"x"}}, {"b", "w4a16", {"x"}}}); }).contains("two units"));
  }

  // `quantize --mixed` from a sensitivity folder and a budget, and from an allocation.json.
  void quantizeCommand() {
    const QString table = tmp_.filePath(QStringLiteral("cli-mixed"));
    const QString model = QString::fromStdString(kZoo + "/aligned");
    QCOMPARE(runCli({"sensitivity", "--model", model, "--data", QString::fromStdString(kZoo + "/data/calibration.jsonl"), "--samples", "16",
                     "--tokens", "4", "--options", "w8a16-g32-sym,w4a16-g32-sym,w2a16-g32-sym", "--out", table, "--quiet"})
                 .exitCode,
             0);
    const CliResult r = runCli({"quantize", "--model", model, "--method", "rtn", "--mixed", table, "--budget-bits", "4.6", "--out",
                                tmp_.filePath(QStringLiteral("cli-mixed-run"))});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const sq::QuantRun run = sq::read_quant_run(tmp_.filePath(QStringLiteral("cli-mixed-run")).toStdString());
    QVERIFY(run.mix && run.mix->bits_per_weight <= 4.6 + 1e-9 && run.mix->units.size() == 9);
    QVERIFY(run.mix->chosen_by.find("safety objective") != std::string::npos);
    // The same plan through an allocation file.
    QCOMPARE(runCli({"allocate", "--sensitivity", table, "--budget-bits", "4.6", "--quiet"}).exitCode, 0);
    const CliResult f = runCli({"quantize", "--model", model, "--method", "rtn", "--mixed", table + QStringLiteral("/allocation.json"), "--out",
                                tmp_.filePath(QStringLiteral("cli-mixed-run2"))});
    QVERIFY2(f.exitCode == 0, qPrintable(f.err));
    const sq::QuantRun run2 = sq::read_quant_run(tmp_.filePath(QStringLiteral("cli-mixed-run2")).toStdString());
    for (size_t u = 0; u < run.mix->units.size(); ++u) QCOMPARE(run2.mix->units[u].scheme, run.mix->units[u].scheme);
    const CliResult both = runCli({"quantize", "--model", model, "--method", "rtn", "--mixed", table, "--scheme", "w4a16", "--out",
                                   tmp_.filePath(QStringLiteral("x"))});
    QVERIFY(both.exitCode != 0 && both.err.contains(QStringLiteral("no --scheme")));
    const CliResult none = runCli({"quantize", "--model", model, "--method", "rtn", "--mixed", table, "--out", tmp_.filePath(QStringLiteral("x"))});
    QVERIFY(none.exitCode != 0 && none.err.contains(QStringLiteral("--budget-bits")));
  }
};

QTEST_GUILESS_MAIN(TstMixed)
#include "tst_mixed.moc"
