// Every tensor a job makes follows the model's device. No GPU is needed to check it: while a job
// runs, every ATen operation the engine calls passes a dispatcher hook (torch's test-only mode
// key, active for this thread), and a tensor factory given no device (zeros, arange, tensor, a
// full TensorOptions .to, …) is recorded: it lands on the CPU whatever the model's device, the
// kCPU that would creep back in. Tensors that belong on the host say so (host() in
// core/run/torch_device.h), so they pass. Calls torch makes inside an operation are not watched.
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>
#include <torch/torch.h>

#include <QtTest>
#include <mutex>
#include <set>

#include "core/data/calibration.h"
#include "core/data/prompt_set.h"
#include "core/eval/evaluate.h"
#include "core/eval/refusal.h"
#include "core/model/model.h"
#include "core/model/prompt_encoding.h"
#include "core/probe/probe_run.h"
#include "core/quant/quantizer.h"
#include "core/run/device.h"
#include "tests/cli_runner.h"

namespace {

const std::string kZoo = SQ_BINARY_DIR "/zoo-tiny";
constexpr auto kWatch = c10::DispatchKey::TESTING_ONLY_GenericMode;

std::mutex g_mutex;
std::set<std::string> g_deviceless;  // operators called with no device, by schema name and overload

bool makes_a_tensor_without_device(const c10::OperatorHandle& op, const torch::jit::Stack& stack) {
  const auto& args = op.schema().arguments();
  bool has_tensor_input = false, device_unset = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const c10::IValue& v = stack[stack.size() - args.size() + i];
    if (args[i].name() == "device") device_unset = v.isNone();
    has_tensor_input = has_tensor_input || v.isTensor();
  }
  // A factory has no tensor input; `.to(TensorOptions)` without a device is how torch::tensor()
  // hands its CPU buffer over, so a missing device there is the same thing.
  const bool factory = !has_tensor_input || (op.schema().name() == "aten::to" && op.schema().overload_name() == "dtype_layout");
  return factory && device_unset;
}

void watch(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  if (makes_a_tensor_without_device(op, *stack)) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_deviceless.insert(op.schema().name() + "." + op.schema().overload_name());
  }
  c10::impl::ExcludeDispatchKeyGuard inner(kWatch);  // torch's own calls inside the operation
  op.redispatchBoxed(keys.remove(kWatch), stack);
}

TORCH_LIBRARY_IMPL(_, TESTING_ONLY_GenericMode, m) { m.fallback(torch::CppFunction::makeFromBoxedFunction<&watch>()); }

// The operators `job` called without a device.
template <typename Job>
std::set<std::string> deviceless_calls(Job job) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_deviceless.clear();
  }
  {
    c10::impl::IncludeDispatchKeyGuard on(kWatch);
    job();
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_deviceless;
}

QString listed(const std::set<std::string>& ops) {
  QStringList l;
  for (const std::string& s : ops) l << QString::fromStdString(s);
  return l.join(QStringLiteral(", "));
}

}  // namespace

class TstDevice : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void devicesByName() {
    QVERIFY(sq::device_from_name("cpu") == sq::ComputeDevice{});
    QVERIFY((sq::device_from_name("cuda") == sq::ComputeDevice{sq::DeviceKind::Cuda, 0}));
    QVERIFY((sq::device_from_name("cuda:3") == sq::ComputeDevice{sq::DeviceKind::Cuda, 3}));
    for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:1234", ""}) QVERIFY2(!sq::device_from_name(bad), bad);
    QCOMPARE(sq::device_name({sq::DeviceKind::Cuda, 2}), std::string("cuda:2"));
    QCOMPARE(sq::device_name(sq::available_devices().front()), std::string("cpu"));
    QCOMPARE(sq::parse_device("cpu").kind, sq::DeviceKind::Cpu);
  }

  // Where the build has no CUDA, asking for it says so, by name, before any work.
  void cudaRefusedWithTheReason() {
    if (!sq::cuda_unavailable_reason().empty()) {
      QCOMPARE(sq::available_devices().size(), size_t(1));
      try {
        sq::parse_device("cuda:0");
        QFAIL("cuda:0 accepted without CUDA");
      } catch (const sq::Error& e) {
        QVERIFY2(std::string(e.what()).find(sq::cuda_unavailable_reason()) != std::string::npos, e.what());
      }
      const CliResult r = runProgram(QStringLiteral("app/safequant"),
                                     {"generate", "--model", QString::fromStdString(kZoo + "/aligned"), "--tokens", "1,2", "--device", "cuda"});
      QCOMPARE(r.exitCode, 1);
      QVERIFY2(r.err.contains(QString::fromStdString(sq::cuda_unavailable_reason())), qPrintable(r.err));
    }
    const CliResult bad = runProgram(QStringLiteral("app/safequant"),
                                     {"generate", "--model", QString::fromStdString(kZoo + "/aligned"), "--tokens", "1,2", "--device", "gpu"});
    QCOMPARE(bad.exitCode, 2);
    QVERIFY2(bad.err.contains("--device gpu"), qPrintable(bad.err));
  }

  // The hook sees what it must: a factory without a device is caught, one with a device or
  // derived from a tensor is not.
  void theWatchCatchesAFactoryWithoutDevice() {
    const auto caught = deviceless_calls([] {
      (void)torch::zeros({2});
      (void)torch::tensor(std::vector<float>{1, 2});
    });
    QVERIFY2(caught.count("aten::zeros.") && caught.count("aten::to.dtype_layout"), qPrintable(listed(caught)));
    const auto clean = deviceless_calls([] {
      const torch::Tensor a = torch::zeros({2}, torch::TensorOptions().device(torch::kCPU));
      (void)torch::ones_like(a);
      (void)torch::arange(3, a.options());
      (void)torch::tensor(std::vector<float>{1, 2}, a.options());
      (void)(a + 1).to(torch::kFloat64);
    });
    QVERIFY2(clean.empty(), qPrintable(listed(clean)));
  }

  void inferenceFollowsTheModel() {
    sq::QuantizeOptions q = sq::QuantizeOptions::for_method(sq::QuantMethod::Rtn);
    q.scheme = sq::parse_scheme("w4a4kv4");
    q.rotate = true;  // the model then computes in a rotated basis and captures back out of it
    const std::string run = tmp_.filePath("rtn").toStdString();
    sq::quantize_model(kZoo + "/aligned", q, run);
    const auto calls = deviceless_calls([&] {
      const auto model = sq::Model::load(kZoo + "/aligned");
      (void)model->logits({1, 5, 9});
      sq::GenerateOptions g;
      g.max_new_tokens = 4;
      (void)model->generate({{1, 5, 9}, {7}}, g);
      g.temperature = 0.8;
      g.top_p = 0.9;
      g.steering = {1, std::vector<float>(size_t(model->config().hidden_size), 0.1f)};
      (void)model->generate({{1, 5, 9}}, g);
      sq::CaptureOptions c;
      c.batch_size = 2;
      (void)model->capture({{1, 5, 9}, {7}, {3, 4}}, c);
      const auto quantized = sq::Model::load(kZoo + "/aligned", run);
      (void)quantized->generate({{1, 5, 9}}, g);
      (void)quantized->capture({{1, 5, 9}, {7}}, c);
    });
    QVERIFY2(calls.empty(), qPrintable("made on the CPU whatever the device: " + listed(calls)));
  }

  void probesAndEvaluationFollowTheModel() {
    const auto prompts = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    const std::vector<sq::Prompt> few = sq::draw_calibration(prompts, 24, 0.5, 0).prompts;  // both labels
    const auto calls = deviceless_calls([&] {
      const auto model = sq::Model::load(kZoo + "/aligned");
      sq::ProbeOptions po;
      po.cv_folds = 2;
      po.tsne = true;
      po.truncate = true;  // one of the tiny zoo's calibration prompts runs past its context
      (void)sq::run_probe(*model, few, po, "");
      sq::EvalOptions eo;
      eo.max_new_tokens = 4;
      (void)sq::evaluate(*model, std::vector<sq::Prompt>(few.begin(), few.begin() + 6), sq::RefusalMatcher({"I cannot"}), eo);
    });
    QVERIFY2(calls.empty(), qPrintable("made on the CPU whatever the device: " + listed(calls)));
  }

  void quantizersFollowTheModel() {
    const auto pool = sq::load_prompts(kZoo + "/data/calibration.jsonl");
    struct Case {
      sq::QuantMethod method;
      const char* scheme;
      bool rotate, act_order;
    };
    for (const Case& k : {Case{sq::QuantMethod::Rtn, "w4a16-g32", false, false}, Case{sq::QuantMethod::Gptq, "w4a8", false, true},
                          Case{sq::QuantMethod::Gptq, "w4a16-g32", true, false}, Case{sq::QuantMethod::QRealign, "w4a8", false, false},
                          Case{sq::QuantMethod::Aaq, "w4a4", true, false}}) {
      sq::QuantizeOptions o = sq::QuantizeOptions::for_method(k.method);
      o.scheme = sq::parse_scheme(k.scheme);
      o.rotate = k.rotate;
      o.act_order = k.act_order;
      o.prompts = pool;
      o.samples = 8;
      o.epochs = 1;
      o.paper_epochs = false;
      if (sq::info(k.method).needs_aligned) o.aligned_dir = kZoo + "/aligned";
      if (sq::info(k.method).needs_base) o.base_dir = kZoo + "/base";
      const std::string model = kZoo + (sq::info(k.method).needs_aligned ? "/finetuned" : "/aligned");
      const std::string run = tmp_.filePath(QString::fromStdString(std::string(sq::info(k.method).name) + "-" + k.scheme)).toStdString();
      const auto calls = deviceless_calls([&] { sq::quantize_model(model, o, run); });
      QVERIFY2(calls.empty(), qPrintable(QString::fromStdString(std::string(sq::info(k.method).name) + " " + k.scheme) +
                                         " made on the CPU whatever the device: " + listed(calls)));
    }
  }
};

QTEST_GUILESS_MAIN(TstDevice)
#include "tst_device.moc"
