// The probing stage: prompt files and splits, probe metrics, the batched SLR solver on
// synthetic data (separable and not) and against liblinear, 2D projections, and the
// `safequant probe` command end to end on a tiny random model with the shipped prompts.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <map>
#include <set>

#include "core/data/calibration.h"
#include "core/data/prompt_set.h"
#include "core/error.h"
#include "core/model/llama.h"
#include "core/io/safetensors.h"
#include "core/probe/metrics.h"
#include "core/probe/outliers.h"
#include "core/probe/probe_folder.h"
#include "core/probe/projection.h"
#include "core/probe/slr.h"
#include "tests/cli_runner.h"
#include "tests/error_text.h"
#include "tests/liblinear_reference.h"
#include "tests/tiny_model.h"

namespace {


// Two Gaussian classes: the label is carried by `signal` features in a random direction.
std::pair<torch::Tensor, torch::Tensor> synthetic(int64_t n, int64_t d, double separation, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor y = torch::randint(0, 2, {n}, torch::kInt64);
  torch::Tensor X = torch::randn({n, d});
  torch::Tensor dir = torch::zeros({d});
  dir.narrow(0, 0, 3).fill_(1.0 / std::sqrt(3.0));
  X = X + separation * (2 * y.to(torch::kFloat32) - 1).unsqueeze(1) * dir.unsqueeze(0);
  return {X, y};
}

double accuracy(const torch::Tensor& X, const torch::Tensor& y, const torch::Tensor& w, double b) {
  const torch::Tensor pred = (torch::matmul(X, w) + b) > 0;
  return pred.eq(y.to(torch::kBool)).to(torch::kFloat32).mean().item<double>();
}

}  // namespace

class TstProbe : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  static std::vector<sq::Prompt> shippedPrompts(const std::vector<std::string>& files) {
    std::vector<std::string> paths;
    for (const std::string& f : files) paths.push_back(std::string(SQ_SOURCE_DIR) + "/resources/data/" + f);
    return sq::load_prompt_files(paths);
  }

  static std::string slurp(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string write(const QString& name, const std::string& text) {
    const std::string p = tmp_.filePath(name).toStdString();
    std::ofstream(p) << text;
    return p;
  }

 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void metricsByHand() {
    // logits: positives 2, 0.5, -1; negatives -2, 0.5, -3 -> one tie across classes.
    const sq::ProbeMetrics m = sq::probe_metrics({2, 0.5f, -1, -2, 0.5f, -3}, {1, 1, 1, 0, 0, 0});
    QCOMPARE(m.accuracy, 4.0 / 6);                      // 2, 0.5 right; -1 wrong; -2, -3 right; 0.5 wrong
    QCOMPARE(m.balanced_accuracy, (2.0 / 3 + 2.0 / 3) / 2);
    QCOMPARE(m.auc, 7.5 / 9);                           // pairs won 7, tied 1 of 9
    QCOMPARE(m.margin, (1.5 / 3) - (-4.5 / 3));
  }

  void promptFilesAndErrors() {
    const auto ok = sq::load_prompts(write("ok.jsonl", "{\"id\":\"a\",\"prompt\":\"hi\",\"label\":\"benign\"}\n\n"
                                                        "{\"prompt\":\"x\",\"label\":\"malicious\",\"answer\":42}\n"));
    QCOMPARE(ok.size(), size_t(2));
    QCOMPARE(ok[1].label, 1);
    QCOMPARE(QString::fromStdString(ok[1].answer), QStringLiteral("42"));
    QCOMPARE(QString::fromStdString(ok[1].id), QStringLiteral("ok-1"));
    const auto csv = sq::load_prompts(write("p.csv", "id,prompt,label\nc1,\"Hello, \"\"world\"\"\nagain\",benign\nc2,bad,malicious\n"));
    QCOMPARE(QString::fromStdString(csv[0].text), QStringLiteral("Hello, \"world\"\nagain"));
    QCOMPARE(csv[1].label, 1);
    QVERIFY(errorOf([&] { sq::load_prompts(write("empty.jsonl", "\n")); }).contains("no prompts in this file"));
    // An unclosed quote would swallow every record after it.
    QVERIFY(errorOf([&] { sq::load_prompts(write("q.csv", "id,prompt,label\nc1,\"never closed,benign\nc2,x,benign\n")); })
                .contains("q.csv:2: a quoted field is never closed"));
    // CSV fields are bytes until checked: ill-formed UTF-8 is refused by line (found by fuzzing).
    QVERIFY(errorOf([&] { sq::load_prompts(write("u.csv", "id,prompt,label\nc1,ok,benign\nc2,\"<\x8e>\",benign\n")); })
                .contains("u.csv:3: not valid UTF-8 text"));
    QVERIFY(errorOf([&] { sq::load_prompts(write("l.jsonl", "{\"prompt\":\"x\",\"label\":\"evil\"}\n")); })
                .contains("l.jsonl:1: label must be"));
    QVERIFY(errorOf([&] { sq::load_prompts(write("m.jsonl", "{\"label\":\"benign\"}\n")); }).contains("missing \"prompt\""));
    QVERIFY(errorOf([&] { sq::load_prompts(write("b.jsonl", "{\"prompt\":\" \",\"label\":\"benign\"}\n")); }).contains("empty prompt"));
    QVERIFY(errorOf([&] { sq::load_prompts(write("j.jsonl", "{oops\n")); }).contains("j.jsonl:1: not a JSON object"));
    QVERIFY(errorOf([&] { sq::load_prompts(tmp_.filePath("none.jsonl").toStdString()); }).contains("cannot open"));
    const std::string a = write("a.jsonl", "{\"id\":\"same\",\"prompt\":\"x\",\"label\":\"benign\"}\n");
    QVERIFY(errorOf([&] { sq::load_prompt_files({a, a}); }).contains("prompt id \"same\" also appears"));
  }

  void stratifiedSplitIsDeterministic() {
    std::vector<sq::Prompt> ps;
    for (int i = 0; i < 50; ++i) ps.push_back({"id" + std::to_string(i), "t", "", "", "", i < 20 ? 1 : 0});
    const sq::Split s = sq::stratified_split(ps, 0.2, 7);
    QCOMPARE(s.test.size(), size_t(10));  // 4 of 20 malicious, 6 of 30 benign
    int mal = 0;
    for (size_t i : s.test) mal += ps[i].label;
    QCOMPARE(mal, 4);
    std::vector<sq::Prompt> reversed(ps.rbegin(), ps.rend());
    const sq::Split r = sq::stratified_split(reversed, 0.2, 7);
    std::set<std::string> a, b;
    for (size_t i : s.test) a.insert(ps[i].id);
    for (size_t i : r.test) b.insert(reversed[i].id);
    QCOMPARE(a, b);                                                // file order does not matter
    QVERIFY(sq::stratified_split(ps, 0.2, 8).test != s.test);      // the seed does
  }

  // Ids that share a prefix ("jbb-benign-00", "-01", ...) must not land on neighbouring hashes:
  // ordering by such a hash takes whole blocks of one source.
  void idHashAvalanches() {
    double bits = 0, top_flips = 0;
    const int n = 450;
    for (int i = 1; i < n; ++i) {
      const uint64_t a = sq::id_hash("xstest-" + std::to_string(i), 0), b = sq::id_hash("xstest-" + std::to_string(i + 1), 0);
      bits += __builtin_popcountll(a ^ b);
      top_flips += ((a ^ b) >> 63) & 1;
    }
    bits /= n - 1;
    top_flips /= n - 1;
    qInfo("neighbouring ids: %.1f of 64 bits differ, the top bit in %.0f %%", bits, 100 * top_flips);
    QVERIFY2(bits > 29 && bits < 35, qPrintable(QString::number(bits)));
    QVERIFY2(top_flips > 0.4 && top_flips < 0.6, qPrintable(QString::number(top_flips)));
  }

  // JBB harmful, JBB benign and XSTest together (four label/source strata of 60 to 250 prompts):
  // every stratum's held-out count is its share of its label within one prompt, for any seed.
  void splitKeepsSourceShares() {
    const auto ps = shippedPrompts({"jbb_behaviors_harmful.jsonl", "jbb_behaviors_benign.jsonl", "xstest_v2_prompts.jsonl"});
    for (uint64_t seed : {0, 1, 2, 3}) {
      const sq::Split split = sq::stratified_split(ps, 0.2, seed);
      QCOMPARE(split.test.size() + split.train.size(), ps.size());
      const auto strata = sq::strata_of(ps, split.test);
      QCOMPARE(strata.size(), size_t(4));
      for (const sq::Stratum& s : strata) {
        const double want = 0.2 * double(s.population);
        qInfo("seed %d %s/%s: %zu of %zu held out (%.1f wanted)", int(seed), s.label ? "malicious" : "benign", s.source.c_str(),
              s.drawn, s.population, want);
        QVERIFY2(std::fabs(double(s.drawn) - want) <= 1.0, qPrintable(QString::fromStdString(s.source)));
      }
    }
  }

  // A calibration draw over every shipped file keeps each source's share of its label within one
  // prompt: the benign pool's four instruction sources, JBB, XSTest and GSM8K alike.
  void calibrationDrawKeepsSourceShares() {
    const auto ps = shippedPrompts({"advbench_harmful_behaviors.jsonl", "jbb_behaviors_harmful.jsonl", "jbb_behaviors_benign.jsonl",
                                    "xstest_v2_prompts.jsonl", "benign_instructions.jsonl", "gsm8k_test_questions.jsonl"});
    for (uint64_t seed : {0, 1, 2}) {
      const sq::CalibrationDraw d = sq::draw_calibration(ps, 200, 0.75, seed);
      QCOMPARE(d.prompts.size(), size_t(200));
      size_t pool[2] = {0, 0}, drawn[2] = {0, 0};
      for (const sq::Stratum& s : d.composition) {
        pool[s.label] += s.population;
        drawn[s.label] += s.drawn;
      }
      QCOMPARE(drawn[1], size_t(150));
      QCOMPARE(drawn[0], size_t(50));
      for (const sq::Stratum& s : d.composition) {
        const double want = double(drawn[s.label]) * double(s.population) / double(pool[s.label]);
        QVERIFY2(std::fabs(double(s.drawn) - want) < 1.0,
                 qPrintable(QStringLiteral("%1: %2 drawn, %3 wanted").arg(QString::fromStdString(s.source)).arg(s.drawn).arg(want)));
      }
      std::set<std::string> ids;
      for (const sq::Prompt& p : d.prompts) ids.insert(p.id);
      QCOMPARE(ids.size(), size_t(200));  // no prompt twice
    }
    QVERIFY(errorOf([&] { sq::draw_calibration(ps, 2000, 1.0, 0); }).contains("needs 2000 malicious"));
  }

  void foldsAreStratified() {
    const auto ps = shippedPrompts({"jbb_behaviors_harmful.jsonl", "jbb_behaviors_benign.jsonl", "xstest_v2_prompts.jsonl"});
    const int k = 5;
    const std::vector<int> fold = sq::stratified_folds(ps, k, 0);
    std::map<std::pair<int, std::string>, std::vector<int>> per;  // stratum -> count per fold
    for (size_t i = 0; i < ps.size(); ++i) {
      auto& c = per[{ps[i].label, ps[i].source}];
      c.resize(k);
      QVERIFY(fold[i] >= 0 && fold[i] < k);
      ++c[size_t(fold[i])];
    }
    for (const auto& [key, counts] : per) {
      const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
      QVERIFY2(*hi - *lo <= 1, qPrintable(QString::fromStdString(key.second)));
    }
    QVERIFY(errorOf([&] { sq::stratified_folds(ps, 1, 0); }).contains("at least 2 folds"));
  }

  void slrSeparableAndControl() {
    const auto [Xa, ya] = synthetic(400, 40, 4.0, 1);
    const torch::Tensor noise = torch::randn({400, 40});            // control: labels unrelated
    const torch::Tensor X = torch::stack({Xa, noise});
    const torch::Tensor train = torch::arange(0, 320), test = torch::arange(320, 400);
    const sq::SlrFit fit = sq::fit_slr(X.index_select(1, train), ya.index_select(0, train), {});
    const double separable = accuracy(Xa.index_select(0, test), ya.index_select(0, test), fit.w[0], fit.b[0].item<double>());
    const double control = accuracy(noise.index_select(0, test), ya.index_select(0, test), fit.w[1], fit.b[1].item<double>());
    QVERIFY2(separable >= 0.95, qPrintable(QString::number(separable)));
    QVERIFY2(control > 0.3 && control < 0.7, qPrintable(QString::number(control)));
    // L1 keeps the separable probe sparse: the signal sits in 3 of 40 features.
    QVERIFY((fit.w[0] != 0).sum().item<int64_t>() <= 15);
    QVERIFY(fit.w[0].narrow(0, 0, 3).min().item<float>() > 0);
  }

  void slrAgreesWithLiblinear_data() {
    QTest::addColumn<double>("C");
    QTest::addColumn<double>("separation");
    QTest::newRow("C=1 overlapping") << 1.0 << 1.5;
    QTest::newRow("C=0.1 overlapping") << 0.1 << 1.5;
    QTest::newRow("C=1 well separated") << 1.0 << 4.0;
  }
  void slrAgreesWithLiblinear() {
    QFETCH(double, C);
    QFETCH(double, separation);
    const auto [X, y] = synthetic(500, 60, separation, 3);
    const int n_train = 400;
    const torch::Tensor Xt = X.narrow(0, 0, n_train).contiguous(), yt = y.narrow(0, 0, n_train).contiguous();
    const LiblinearFit ref = liblinear_l1_logreg(Xt.data_ptr<float>(), yt.data_ptr<int64_t>(), n_train, 60, C, 1e-6);
    sq::SlrOptions o;
    o.C = C;
    o.penalize_intercept = true;  // liblinear's objective
    const sq::SlrFit ours = sq::fit_slr(Xt.unsqueeze(0), yt, o);
    const torch::Tensor wr = torch::tensor(std::vector<float>(ref.w.begin(), ref.w.end()));
    const double obj_ref = sq::slr_objective(Xt.unsqueeze(0), yt, wr.unsqueeze(0), torch::tensor({float(ref.b)}), C, true).item<double>();
    const double obj = ours.objective[0].item<double>();
    qInfo("objective: ours %.6f, liblinear %.6f, nonzero %lld vs %lld", obj, obj_ref,
          (long long)(ours.w[0] != 0).sum().item<int64_t>(), (long long)(wr != 0).sum().item<int64_t>());
    QVERIFY2(std::fabs(obj - obj_ref) / obj_ref < 1e-3, qPrintable(QStringLiteral("ours %1 liblinear %2").arg(obj).arg(obj_ref)));
    const torch::Tensor Xh = X.narrow(0, n_train, 100), yh = y.narrow(0, n_train, 100);
    const double acc = accuracy(Xh, yh, ours.w[0], ours.b[0].item<double>()), acc_ref = accuracy(Xh, yh, wr, ref.b);
    QVERIFY2(std::fabs(acc - acc_ref) <= 0.01 + 1e-9, qPrintable(QStringLiteral("%1 vs %2").arg(acc).arg(acc_ref)));
  }

  // Layers of different difficulty in one fit, wider than the first working set (512), so they
  // finish in different rounds; each must still match liblinear on its own.
  void slrLayersAgreeWithLiblinear() {
    const int n_train = 300, d = 700;
    std::vector<torch::Tensor> layers;
    torch::Tensor y;
    for (double separation : {0.0, 1.5, 4.0}) {
      auto [X, labels] = synthetic(n_train, d, separation, 4);  // same seed: same labels and noise
      layers.push_back(X);
      y = labels;
    }
    const torch::Tensor X = torch::stack(layers);
    sq::SlrOptions o;
    o.penalize_intercept = true;  // liblinear's objective
    const sq::SlrFit ours = sq::fit_slr(X, y, o);
    for (int l = 0; l < 3; ++l) {
      const torch::Tensor Xl = X[l].contiguous();
      const LiblinearFit ref = liblinear_l1_logreg(Xl.data_ptr<float>(), y.data_ptr<int64_t>(), n_train, d, 1.0, 1e-6);
      const torch::Tensor wr = torch::tensor(std::vector<float>(ref.w.begin(), ref.w.end()));
      const double obj_ref = sq::slr_objective(Xl.unsqueeze(0), y, wr.unsqueeze(0), torch::tensor({float(ref.b)}), 1.0, true).item<double>();
      const double obj = ours.objective[l].item<double>();
      qInfo("layer %d: objective ours %.6f, liblinear %.6f, nonzero %lld vs %lld", l, obj, obj_ref,
            (long long)(ours.w[l] != 0).sum().item<int64_t>(), (long long)(wr != 0).sum().item<int64_t>());
      QVERIFY2(std::fabs(obj - obj_ref) / obj_ref < 1e-3, qPrintable(QStringLiteral("layer %1: ours %2 liblinear %3").arg(l).arg(obj).arg(obj_ref)));
    }
  }

  // The default objective leaves the intercept free, as scikit-learn's saga solver (Q-realign's
  // setting) does: at the solution the loss is flat in b, every nonzero weight balances its
  // penalty, every zero weight's gradient is within it; and its objective is no higher than at
  // liblinear's solution, which pays for |b| too.
  void slrFreeInterceptIsOptimal() {
    auto [X, y] = synthetic(400, 50, 1.5, 9);
    X = X + 3;  // an offset the intercept must absorb
    const double C = 1.0;
    const sq::SlrFit fit = sq::fit_slr(X.unsqueeze(0), y, {});
    const torch::Tensor s = 2 * y.to(torch::kFloat32) - 1;
    const torch::Tensor z = X.mv(fit.w[0]) + fit.b[0];
    const torch::Tensor gz = -C * s * torch::sigmoid(-s * z);  // d loss / d z
    const double gb = gz.sum().item<double>();
    const torch::Tensor gw = X.t().mv(gz);
    QVERIFY2(std::fabs(gb) < 1e-2, qPrintable(QString::number(gb)));
    const torch::Tensor nz = fit.w[0] != 0;
    const double worst_nonzero = (gw.index({nz}) + fit.w[0].index({nz}).sign()).abs().max().item<double>();
    const double worst_zero = gw.index({~nz}).abs().max().item<double>();
    qInfo("free intercept b %.4f: |dL/db| %.2e, nonzero weights %lld, worst |grad + sign| %.2e, worst zero |grad| %.4f", fit.b[0].item<double>(),
          std::fabs(gb), (long long)nz.sum().item<int64_t>(), worst_nonzero, worst_zero);
    QVERIFY(worst_nonzero < 1e-2);
    QVERIFY(worst_zero <= 1 + 1e-2);
    const torch::Tensor Xc = X.contiguous();
    const LiblinearFit ref = liblinear_l1_logreg(Xc.data_ptr<float>(), y.data_ptr<int64_t>(), 400, 50, C, 1e-6);
    const torch::Tensor wr = torch::tensor(std::vector<float>(ref.w.begin(), ref.w.end()));
    const double at_ref = sq::slr_objective(X.unsqueeze(0), y, wr.unsqueeze(0), torch::tensor({float(ref.b)}), C, false).item<double>();
    QVERIFY(fit.objective[0].item<double>() <= at_ref + 1e-4);
    QVERIFY(std::fabs(fit.b[0].item<double>()) > std::fabs(ref.b));  // the penalty held liblinear's back
  }

  void standardizedFitMapsBack() {
    auto [X, y] = synthetic(300, 20, 3.0, 5);
    X = X * 50 + 7;  // badly scaled features
    sq::SlrOptions o;
    o.standardize = true;
    const sq::SlrFit fit = sq::fit_slr(X.unsqueeze(0), y, o);
    QVERIFY(accuracy(X, y, fit.w[0], fit.b[0].item<double>()) > 0.95);
  }

  void slrRefusesBadInput() {
    QVERIFY(errorOf([] { sq::fit_slr(torch::randn({1, 10, 3}), torch::ones({10}, torch::kInt64), {}); })
                .contains("both malicious and benign"));
    const torch::Tensor y = torch::arange(10) % 2;
    for (float bad : {NAN, INFINITY}) {
      torch::Tensor X = torch::randn({3, 10, 4});
      X[2][7][1] = bad;
      QVERIFY(errorOf([&] { sq::fit_slr(X, y, {}); }).contains("activations of layer 2 hold NaN or infinite values"));
    }
  }

  void projections() {
    torch::manual_seed(2);
    torch::Tensor X = torch::randn({200, 10}) * 0.1;
    X.select(1, 4).mul_(0).add_(torch::linspace(-5, 5, 200));  // the dominant direction is feature 4
    const sq::Basis2D pca = sq::pca_basis(X);
    QVERIFY(pca.axes[0][4].item<float>() > 0.99);
    QVERIFY(std::fabs(torch::dot(pca.axes[0], pca.axes[1]).item<float>()) < 1e-5);
    torch::Tensor w = torch::zeros({10});
    w[1] = 3;
    const sq::Basis2D plane = sq::probe_plane_basis(X, w);
    QVERIFY(std::fabs(plane.axes[0][1].item<float>() - 1) < 1e-6);  // x axis = the probe direction
    QVERIFY(plane.axes[1][4].item<float>() > 0.99);                  // y axis = the top PC orthogonal to it
    // The same basis on shifted activations shows the shift, not a refit.
    const torch::Tensor moved = sq::project_2d(X + 2 * torch::one_hot(torch::tensor(1), 10).to(torch::kFloat32), plane);
    QVERIFY(std::fabs((moved - sq::project_2d(X, plane)).select(1, 0).mean().item<float>() - 2) < 1e-4);
    QVERIFY(sq::probe_plane_basis(X, torch::zeros({10})).note.find("PCA") != std::string::npos);
  }

  void tsneSeparatesClusters() {
    torch::manual_seed(4);
    const torch::Tensor a = torch::randn({60, 8}), b = torch::randn({60, 8}) + 10;
    sq::TsneOptions o;
    o.iterations = 500;
    const torch::Tensor Y = sq::tsne(torch::cat({a, b}), o);
    const torch::Tensor ca = Y.narrow(0, 0, 60).mean(0), cb = Y.narrow(0, 60, 60).mean(0);
    const double gap = (ca - cb).norm().item<double>();
    const double spread = Y.narrow(0, 0, 60).sub(ca).norm(2, 1).mean().item<double>();
    QVERIFY2(gap > 3 * spread, qPrintable(QStringLiteral("gap %1 spread %2").arg(gap).arg(spread)));
    QVERIFY(torch::equal(Y, sq::tsne(torch::cat({a, b}), o)));  // deterministic
  }

  // A layer whose input norm gives one channel 100 times the others' gain reads about 100 at its
  // q/k/v input; the unchanged model reads a few everywhere. The command writes the same report.
  void outliersFindAChannelOfLargeGain() {
    TinySpec s;
    s.seed = 3;
    const std::string plain = tmp_.filePath("outliers-plain").toStdString(), loud = tmp_.filePath("outliers-loud").toStdString();
    writeTinyModel(plain, s);
    writeTinyModel(loud, s);
    {
      std::vector<torch::Tensor> keep;
      std::vector<sq::TensorData> tensors;
      {
        sq::SafetensorsFile f(plain + "/model.safetensors");
        for (const auto& [name, view] : f.tensors()) {
          keep.push_back(sq::as_tensor(view).clone());
          if (name == "model.layers.1.input_layernorm.weight") keep.back()[7].mul_(100);
          tensors.push_back({name, view.dtype, view.shape, keep.back().data_ptr(), size_t(keep.back().nbytes())});
        }
      }
      sq::write_safetensors(loud + "/model.safetensors", tensors, {{"format", "pt"}});
    }
    std::string lines;
    {
      std::ifstream in(std::string(SQ_SOURCE_DIR) + "/resources/data/benign_instructions.jsonl");
      std::string line;
      for (int n = 0; n < 20 && std::getline(in, line);)
        if (line.size() < 300) lines += line + "\n", ++n;  // within the tiny model's context of 512 bytes
    }
    const std::string data = write("outlier-prompts.jsonl", lines);
    const std::vector<sq::Prompt> prompts = sq::load_prompt_files({data});
    sq::OutlierOptions o;
    o.chat.enabled = false;
    const sq::OutlierReport before = sq::measure_outliers(*sq::Model::load(plain), prompts, o);
    const sq::OutlierReport after = sq::measure_outliers(*sq::Model::load(loud), prompts, o);
    qInfo("largest over median: unchanged %.1f; loud layer 1 qkv_in %.1f", before.ratio, after.layers[1].points[0].ratio);
    QCOMPARE(after.layers.size(), size_t(2));
    QCOMPARE(before.outlier_layers, 0);
    QVERIFY2(before.ratio < 10, qPrintable(QString::number(before.ratio)));
    const sq::OutlierPoint& qkv = after.layers[1].points[0];
    QCOMPARE(qkv.point, std::string("qkv_in"));
    QCOMPARE(qkv.channel, int64_t(7));
    QVERIFY2(qkv.ratio > 50 && qkv.ratio < 200, qPrintable(QString::number(qkv.ratio)));
    QCOMPARE(after.outlier_layers, 1);
    // Layer 0 reads what it read before: the gain acts from layer 1's input on.
    QCOMPARE(after.layers[0].points[0].ratio, before.layers[0].points[0].ratio);

    const QString out = tmp_.filePath("outliers.json");
    const CliResult r = runCli({"outliers", "--model", QString::fromStdString(loud), "--data", QString::fromStdString(data), "--no-chat",
                                "--out", out});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("1 of 2 layers reach 20"), qPrintable(r.err));
    // stderr is a pipe here: no progress line within the first 10 s, one per report when the
    // interval is 0 (a long stage's lines in a batch job's log).
    QVERIFY2(!r.err.contains("ETA"), qPrintable(r.err));
    const CliResult logged = runCli({"outliers", "--model", QString::fromStdString(loud), "--data", QString::fromStdString(data),
                                     "--no-chat", "--out", out},
                                    300000, {"SAFEQUANT_PROGRESS_SECONDS=0"});
    QVERIFY2(logged.exitCode == 0 && QRegularExpression("running layer by layer  1/2  [0-9.e+]+/s  ETA [0-9]+ s\n").match(logged.err).hasMatch(),
             qPrintable(logged.err));
    const auto j = nlohmann::json::parse(slurp(out));
    QCOMPARE(j["outlier_layers"].get<int>(), 1);
    QCOMPARE(j["layers"][1]["points"][0]["channel"].get<int64_t>(), int64_t(7));
    QCOMPARE(j["tokens"].get<int64_t>(), after.tokens);
    // Bad input is refused with its reason: no prompts, a threshold that is not positive.
    QVERIFY(errorOf([&] { sq::measure_outliers(*sq::Model::load(loud), {}, o); }).contains("no prompts"));
    const CliResult bad = runCli({"outliers", "--model", QString::fromStdString(loud), "--data", QString::fromStdString(data), "--threshold", "0"});
    QCOMPARE(bad.exitCode, 2);
    QVERIFY2(bad.err.contains("--threshold must be positive"), qPrintable(bad.err));
  }

  void probeCommandEndToEnd() {
    TinySpec s;
    s.layers = 3;
    const std::string model = tmp_.filePath("model").toStdString();
    writeTinyModel(model, s);
    // 30 malicious and 30 benign shipped prompts.
    std::string lines;
    for (const char* f : {"advbench_harmful_behaviors.jsonl", "benign_instructions.jsonl"}) {
      std::ifstream in(std::string(SQ_SOURCE_DIR) + "/resources/data/" + f);
      std::string line;
      for (int i = 0; i < 30 && std::getline(in, line); ++i) lines += line + "\n";
    }
    const std::string data = write("mix.jsonl", lines);
    const QString out = tmp_.filePath("probe-out");
    // One benign prompt is longer than the tiny byte-level model's context: refused without
    // --truncate, kept to its last 512 tokens with it.
    const QStringList args = {"probe", "--model", QString::fromStdString(model), "--data", QString::fromStdString(data),
                              "--out", out, "--tsne", "--penalize-intercept"};  // liblinear's objective, checked below
    const CliResult too_long = runCli(args);
    QCOMPARE(too_long.exitCode, 1);
    QVERIFY2(too_long.err.contains("exceeds the model's context of 512") && too_long.err.contains("--truncate"), qPrintable(too_long.err));
    const CliResult r = runCli(args + QStringList{"--truncate"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("1 prompts longer than the model's context kept their last 512 tokens"), qPrintable(r.err));
    QVERIFY(!r.err.contains("Write a script"));  // prompt text stays out of the console
    sq::SafetensorsFile acts((out + "/activations.safetensors").toStdString());
    QCOMPARE(acts.find("layer.2")->shape, (std::vector<int64_t>{60, 32}));
    QCOMPARE(acts.find("labels")->dtype, sq::DType::I32);
    // Real activations have strongly correlated features, unlike the synthetic sets above: the
    // probes fitted on them must still match liblinear's.
    const torch::Tensor labels = sq::as_tensor(*acts.find("labels")).to(torch::kInt64);
    std::vector<torch::Tensor> states;
    for (int l = 0; l < 3; ++l) states.push_back(sq::as_tensor(*acts.find("layer." + std::to_string(l))).to(torch::kFloat32));
    const torch::Tensor X = torch::stack(states);
    sq::SlrOptions liblinear_objective;
    liblinear_objective.penalize_intercept = true;
    const sq::SlrFit fit = sq::fit_slr(X, labels, liblinear_objective);
    for (int l = 0; l < 3; ++l) {
      const torch::Tensor Xl = X[l].contiguous();
      const LiblinearFit ref = liblinear_l1_logreg(Xl.data_ptr<float>(), labels.data_ptr<int64_t>(), 60, 32, 1.0, 1e-8);
      const torch::Tensor wr = torch::tensor(std::vector<float>(ref.w.begin(), ref.w.end()));
      const double obj_ref = sq::slr_objective(Xl.unsqueeze(0), labels, wr.unsqueeze(0), torch::tensor({float(ref.b)}), 1.0, true).item<double>();
      const double obj = fit.objective[l].item<double>();
      qInfo("layer %d: ours %.6f liblinear %.6f", l, obj, obj_ref);
      QVERIFY2(std::fabs(obj - obj_ref) / obj_ref < 1e-4, qPrintable(QStringLiteral("layer %1: ours %2 liblinear %3").arg(l).arg(obj).arg(obj_ref)));
    }
    std::ifstream pj((out + "/probe.json").toStdString());
    const auto probe = nlohmann::json::parse(pj);
    QCOMPARE(probe["layers"].size(), size_t(3));
    QCOMPARE(probe["split"]["test"].size(), size_t(12));
    // Cross-validation: the folds probe.json lists, refitted by liblinear (scikit-learn's
    // liblinear solver) on the same activations, give the same mean held-out accuracy per layer.
    const auto folds = probe["cv"]["test"].get<std::vector<std::vector<std::string>>>();
    QCOMPARE(folds.size(), size_t(5));
    const auto ids = nlohmann::json::parse(std::ifstream((out + "/projection.json").toStdString()))["ids"].get<std::vector<std::string>>();
    for (int l = 0; l < 3; ++l) {
      double mean = 0;
      for (const auto& held : folds) {
        const std::set<std::string> test(held.begin(), held.end());
        std::vector<int64_t> train_rows, test_rows;
        for (size_t i = 0; i < ids.size(); ++i) (test.count(ids[i]) ? test_rows : train_rows).push_back(int64_t(i));
        const torch::Tensor tr = torch::tensor(train_rows), te = torch::tensor(test_rows);
        const torch::Tensor Xt = X[l].index_select(0, tr).contiguous(), yt = labels.index_select(0, tr).contiguous();
        const LiblinearFit ref = liblinear_l1_logreg(Xt.data_ptr<float>(), yt.data_ptr<int64_t>(), int(train_rows.size()), 32, 1.0, 1e-8);
        const torch::Tensor wr = torch::tensor(std::vector<float>(ref.w.begin(), ref.w.end()));
        mean += accuracy(X[l].index_select(0, te), labels.index_select(0, te), wr, ref.b) / double(folds.size());
      }
      const auto& cv = probe["layers"][size_t(l)]["cv"]["accuracy"];
      qInfo("layer %d: cross-validated accuracy ours %.3f ± %.3f, liblinear %.3f", l, cv["mean"].get<double>(),
            cv["std"].get<double>(), mean);
      QVERIFY2(std::fabs(cv["mean"].get<double>() - mean) <= 0.03, qPrintable(QStringLiteral("layer %1").arg(l)));
      QVERIFY(cv["std"].get<double>() >= 0);
      QVERIFY(probe["layers"][size_t(l)]["cv"]["auc"]["mean"].get<double>() > 0);
    }
    QCOMPARE(probe["split"]["strata"].size(), size_t(2));
    for (const auto& l : probe["layers"]) {
      QVERIFY(l["accuracy"].get<double>() >= 0 && l["accuracy"].get<double>() <= 1);
      QCOMPARE(l["w"].size(), size_t(32));
    }
    std::ifstream xj((out + "/projection.json").toStdString());
    const auto proj = nlohmann::json::parse(xj);
    QCOMPARE(proj["layers"][1]["probe_plane"].size(), size_t(60));
    QCOMPARE(proj["layers"][0]["tsne"].size(), size_t(60));
    std::ifstream csv((out + "/projection.csv").toStdString());
    int rows = 0;
    for (std::string line; std::getline(csv, line);) ++rows;
    QCOMPARE(rows, 1 + 60 * 3 * 3);

    // The folder's owner reads back what the stage wrote, and writes the same bytes again.
    const sq::ProbeReport report = sq::read_probe_report(out.toStdString());
    QCOMPARE(report.layers.size(), size_t(3));
    QCOMPARE(report.cv_folds, folds);
    QCOMPARE(report.layers[1].w, probe["layers"][1]["w"].get<std::vector<float>>());
    QCOMPARE(report.layers[2].cv_accuracy.mean, probe["layers"][2]["cv"]["accuracy"]["mean"].get<double>());
    QVERIFY(report.penalize_intercept);
    const sq::Projection projection = sq::read_projection(out.toStdString());
    QCOMPARE(projection.ids, ids);
    QCOMPARE(projection.layers[0].reference.at(sq::ProjectionMethod::Tsne).size(), size_t(60));
    const QString again = tmp_.filePath("probe-again");
    QVERIFY(QDir().mkpath(again));
    sq::write_probe_report(again.toStdString(), report);
    sq::write_projection(again.toStdString(), projection);
    for (const char* f : {"/probe.json", "/projection.json", "/projection.csv"})
      QVERIFY2(slurp(out + f) == slurp(again + f), f);
    // A map with a point missing is refused, naming the file and the count.
    std::string bad = slurp(out + "/projection.json");
    const size_t at = bad.find("\"pca\":[[") + 7;
    bad.erase(at, bad.find(']', at) + 2 - at);  // the first point and its comma
    std::ofstream(again.toStdString() + "/projection.json") << bad;
    const QString why = errorOf([&] { sq::read_projection(again.toStdString()); });
    QVERIFY2(why.contains("projection.json: \"pca\" holds 59 points for 60 prompts"), qPrintable(why));

    // An output folder that cannot be made (beneath a file) is refused, naming it.
    const QString blocked_out = QString::fromStdString(data) + "/out";
    const CliResult blocked = runCli({"probe", "--model", QString::fromStdString(model), "--data", QString::fromStdString(data),
                                      "--out", blocked_out});
    QCOMPARE(blocked.exitCode, 1);
    QVERIFY2(blocked.err.contains(blocked_out + ": cannot create the folder"), qPrintable(blocked.err));

    const CliResult empty = runCli({"probe", "--model", QString::fromStdString(model), "--data",
                                    QString::fromStdString(write("e.jsonl", ""))});
    QCOMPARE(empty.exitCode, 1);
    QVERIFY(empty.err.contains("e.jsonl: no prompts in this file"));
    const CliResult benign_only = runCli({"probe", "--model", QString::fromStdString(model), "--data",
                                          QString::fromStdString(write("b1.jsonl", "{\"prompt\":\"x\",\"label\":\"benign\"}\n{\"prompt\":\"y\",\"label\":\"benign\"}\n"))});
    QCOMPARE(benign_only.exitCode, 1);
    QVERIFY(benign_only.err.contains("needs malicious and benign"));
  }
};

QTEST_GUILESS_MAIN(TstProbe)
#include "tst_probe.moc"
