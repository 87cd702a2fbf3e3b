// Qt Quick Test runner for the views' components (tests/qml/tst_*.qml), with the app's QML
// modules linked in statically (found under qrc:/) and a QApplication (Qt Charts needs one).
#include <QApplication>
#include <QQmlContext>
#include <QQmlEngine>
#include <QtQml/QQmlExtensionPlugin>
#include <QtQuickTest>

Q_IMPORT_QML_PLUGIN(SafeQuantPlugin)
Q_IMPORT_QML_PLUGIN(SafeQuant_ControllersPlugin)

class Setup : public QObject {
  Q_OBJECT
 public Q_SLOTS:
  void qmlEngineAvailable(QQmlEngine* engine) {
    engine->addImportPath(QStringLiteral("qrc:/"));
    engine->rootContext()->setContextProperty(QStringLiteral("testData"), QStringLiteral(SQ_SOURCE_DIR "/tests/data"));
  }
};

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("SafeQuantTests"));
  QTEST_SET_MAIN_SOURCE_PATH
  Setup setup;
  return quick_test_main_with_setup(argc, argv, "tst_quick", SQ_SOURCE_DIR "/tests/qml", &setup);
}

#include "tst_quick.moc"
