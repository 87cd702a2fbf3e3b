#include "app/studio/export_controller.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "app/studio/job_runner.h"
#include "app/studio/models_controller.h"
#include "core/export/export.h"
#include "core/quantized/run_record.h"

ExportController::ExportController(ModelsController* models, JobRunner* jobs, QObject* parent)
    : QObject(parent), models_(models), jobs_(jobs) {}

QString ExportController::modelOf(const QString& runDir) const {
  if (runDir.isEmpty()) return models_->target();
  try {
    return QString::fromStdString(sq::read_run_record(runDir.toStdString()).model);
  } catch (const std::exception&) {
    return models_->target();  // checks() then names the run's problem
  }
}

QVariantList ExportController::checks(const QString& runDir) const {
  QVariantList out;
  try {
    for (const sq::ExportCheck& c : sq::check_exports(modelOf(runDir).toStdString(), runDir.toStdString()))
      out.push_back(QVariantMap{{QStringLiteral("format"), QString::fromStdString(c.format)},
                                {QStringLiteral("allowed"), c.allowed},
                                {QStringLiteral("exact"), c.exact},
                                {QStringLiteral("note"), QString::fromStdString(c.note)}});
  } catch (const std::exception& e) {
    out.push_back(QVariantMap{{QStringLiteral("format"), QString()}, {QStringLiteral("allowed"), false},
                              {QStringLiteral("exact"), false}, {QStringLiteral("note"), QString::fromStdString(e.what())}});
  }
  return out;
}

QString ExportController::defaultOutDir(const QString& runDir, const QString& format) const {
  const QString from = runDir.isEmpty() ? modelOf(runDir) : runDir;
  return QFileInfo(from).path() + QStringLiteral("/../exports/") + QFileInfo(from).fileName() + QLatin1Char('-') + format;
}

bool ExportController::exportRun(const QString& runDir, const QString& format, const QString& outDir) {
  sq::ExportOptions o;
  o.model_dir = modelOf(runDir).toStdString();
  o.quant_run = runDir.toStdString();
  o.format = format.toStdString();
  o.out = QDir::cleanPath(outDir).toStdString();
  o.replace = true;  // an earlier export there is replaced; any other folder is refused by name
  return jobs_->start(QStringLiteral("export"), [this, o](const sq::Progress& progress) mutable -> std::function<void()> {
    o.progress = progress;
    const sq::ExportResult r = sq::export_model(o);
    double bytes = 0;
    for (const auto& f : r.files) bytes += double(f.size);
    QFile m(QString::fromStdString(r.manifest));
    const QString manifest = m.open(QIODevice::ReadOnly) ? QString::fromUtf8(m.readAll()) : QString();
    return [this, path = QString::fromStdString(r.main_file), bytes, manifest] {
      result_path_ = path;
      result_mb_ = bytes / 1e6;
      manifest_ = manifest;
      Q_EMIT exported();
    };
  });
}
