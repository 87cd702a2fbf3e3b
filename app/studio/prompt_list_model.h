#pragma once
// The prompts of the loaded files as a list model. Texts are disturbing for malicious prompts:
// the text role is empty unless the user switched "show prompts" on.
#include <QAbstractListModel>
#include <QtQml/qqmlregistration.h>

#include <vector>

#include "core/data/prompt_set.h"

class PromptListModel : public QAbstractListModel {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(bool showText READ showText WRITE setShowText NOTIFY showTextChanged)

 public:
  enum Role { IdRole = Qt::UserRole + 1, LabelRole, SourceRole, TextRole };
  explicit PromptListModel(QObject* parent = nullptr) : QAbstractListModel(parent) {}

  void setPrompts(std::vector<sq::Prompt> prompts);
  const std::vector<sq::Prompt>& prompts() const { return prompts_; }
  bool showText() const { return show_; }
  void setShowText(bool show);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

 Q_SIGNALS:
  void showTextChanged();

 private:
  std::vector<sq::Prompt> prompts_;
  bool show_ = false;
};
