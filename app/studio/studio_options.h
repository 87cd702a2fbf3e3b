#pragma once
// The command line of safequant-studio: which page to open, and an optional screenshot to
// render once the window is up (then the program exits).
#include <QString>
#include <QStringList>

struct StudioOptions {
  QString page = QStringLiteral("models");
  QString screenshot;  // empty: run interactively
  bool dark = false;
  QString error;       // non-empty: bad usage, exit 2
};

const QStringList& studioPages();

StudioOptions parseStudioOptions(const QStringList& arguments);
