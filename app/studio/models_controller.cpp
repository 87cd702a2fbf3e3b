#include "app/studio/models_controller.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

#include <filesystem>

#include "core/model/config.h"
#include "core/model/tokenizer.h"
#include "core/zoo/zoo.h"

namespace {

// What the Models page shows about a folder, without loading its weights.
QVariantMap describe(const QString& path) {
  namespace fs = std::filesystem;
  QVariantMap m{{QStringLiteral("path"), path}, {QStringLiteral("ok"), false}};
  try {
    const std::string dir = path.toStdString();
    if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a model folder");
    const sq::ModelConfig c = sq::load_config(dir + "/config.json");
    const sq::Tokenizer tok = sq::Tokenizer::load(dir + "/tokenizer.json");
    double bytes = 0;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") bytes += double(e.file_size());
    if (bytes == 0) throw std::runtime_error(dir + ": no .safetensors weights");
    m.insert({{QStringLiteral("ok"), true},
              {QStringLiteral("name"), QFileInfo(path).fileName()},
              {QStringLiteral("architecture"), QString::fromStdString(c.architecture + " (" + c.model_type + ")")},
              {QStringLiteral("layers"), qlonglong(c.num_layers)},
              {QStringLiteral("hidden"), qlonglong(c.hidden_size)},
              {QStringLiteral("heads"), QStringLiteral("%1 / %2 KV").arg(c.num_heads).arg(c.num_kv_heads)},
              {QStringLiteral("parameters"), double(c.parameter_count())},
              {QStringLiteral("dtype"), QString::fromStdString(c.torch_dtype)},
              {QStringLiteral("sizeMB"), bytes / 1e6},
              {QStringLiteral("tokenizer"), QStringLiteral("%1, %2 ids").arg(QString::fromStdString(tok.kind())).arg(tok.vocab_size())}});
  } catch (const std::exception& e) {
    m.insert(QStringLiteral("error"), QString::fromStdString(e.what()));
  }
  return m;
}

}  // namespace

ModelsController::ModelsController(QObject* parent) : QObject(parent) {
  recent_ = QSettings().value(QStringLiteral("models/recent")).toStringList();
  // A remembered device this machine no longer has falls back to the CPU.
  const std::string saved = QSettings().value(QStringLiteral("models/device"), QStringLiteral("cpu")).toString().toStdString();
  for (const sq::ComputeDevice& d : sq::available_devices())
    if (sq::device_name(d) == saved) device_ = d;
}

QStringList ModelsController::devices() const {
  QStringList out;
  for (const sq::ComputeDevice& d : sq::available_devices()) out << QString::fromStdString(sq::device_name(d));
  return out;
}

QString ModelsController::device() const { return QString::fromStdString(sq::device_name(device_)); }

void ModelsController::setDevice(const QString& name) {
  for (const sq::ComputeDevice& d : sq::available_devices())
    if (QString::fromStdString(sq::device_name(d)) == name && !(d == device_)) {
      device_ = d;
      QSettings().setValue(QStringLiteral("models/device"), name);
      Q_EMIT deviceChanged();
    }
}

QString ModelsController::cudaNote() const { return QString::fromStdString(sq::cuda_unavailable_reason()); }

QStringList ModelsController::roles() {
  return {QStringLiteral("target"), QStringLiteral("aligned"), QStringLiteral("base"), QStringLiteral("judge")};
}

bool ModelsController::setModel(const QString& role, const QString& path) {
  const int i = int(roles().indexOf(role));
  if (i < 0) return false;
  paths_[i] = QDir::cleanPath(path);
  infos_[i] = describe(paths_[i]);
  const bool ok = infos_[i].value(QStringLiteral("ok")).toBool();
  if (ok) {
    recent_.removeAll(paths_[i]);
    recent_.prepend(paths_[i]);
    while (recent_.size() > 8) recent_.removeLast();
    QSettings().setValue(QStringLiteral("models/recent"), recent_);
  }
  Q_EMIT changed();
  return ok;
}

void ModelsController::clear(const QString& role) {
  const int i = int(roles().indexOf(role));
  if (i < 0) return;
  paths_[i].clear();
  infos_[i].clear();
  Q_EMIT changed();
}

bool ModelsController::useDemoModels() {
  const QString env = qEnvironmentVariable("SAFEQUANT_ZOO");
  const QString zoo = env.isEmpty() ? QString::fromStdString(sq::demo_zoo_dir()) : env;
  if (!QFileInfo::exists(zoo + QStringLiteral("/zoo.json"))) {
    infos_[0] = {{QStringLiteral("path"), zoo},
                 {QStringLiteral("ok"), false},
                 {QStringLiteral("error"), zoo + QStringLiteral(": no demo models here yet; train them with `safequant zoo --preset demo`")}};
    Q_EMIT changed();
    return false;
  }
  zoo_ = zoo;
  const bool ok = setModel(QStringLiteral("target"), zoo + QStringLiteral("/finetuned")) &&
                  setModel(QStringLiteral("aligned"), zoo + QStringLiteral("/aligned")) &&
                  setModel(QStringLiteral("base"), zoo + QStringLiteral("/base"));
  // A zoo from before the demo judge has none: its evaluations go unjudged.
  if (QFileInfo::exists(zoo + QStringLiteral("/judge/config.json"))) setModel(QStringLiteral("judge"), zoo + QStringLiteral("/judge"));
  else clear(QStringLiteral("judge"));
  if (ok) Q_EMIT demoLoaded(zoo);
  return ok;
}

QVariantList ModelsController::models() const {
  static const QStringList labels = {QStringLiteral("Target (to quantize)"), QStringLiteral("Aligned reference"),
                                     QStringLiteral("Unaligned base (AAQ)"), QStringLiteral("Safety judge")};
  QVariantList out;
  for (int i = 0; i < kRoles; ++i) {
    QVariantMap m = infos_[i];
    m.insert(QStringLiteral("role"), roles()[i]);
    m.insert(QStringLiteral("roleLabel"), labels[i]);
    m.insert(QStringLiteral("set"), !paths_[i].isEmpty());
    out.push_back(m);
  }
  return out;
}
