#pragma once
// The message of the sq::Error a call throws, or "(no error)": tests check what the user reads.
#include <QString>
#include <functional>

#include "core/error.h"

inline QString errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const sq::Error& e) {
    return QString::fromUtf8(e.what());
  }
  return QStringLiteral("(no error)");
}
