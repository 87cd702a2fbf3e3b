#include "app/studio/app_info.h"

#include "core/run/system_info.h"

AppInfo::AppInfo(QObject* parent) : QObject(parent) {
  const sq::SystemInfo s = sq::system_info();
  version_ = QString::fromStdString(s.version);
  torch_ = QString::fromStdString(s.torch_version);
  threads_ = s.threads;
  if (!s.cuda_compiled)
    cuda_ = QStringLiteral("CUDA not built in");
  else
    cuda_ = s.cuda_devices > 0 ? QStringLiteral("CUDA devices: %1").arg(s.cuda_devices)
                               : QStringLiteral("CUDA built in, no device");
}
