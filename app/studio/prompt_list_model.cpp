#include "app/studio/prompt_list_model.h"

void PromptListModel::setPrompts(std::vector<sq::Prompt> prompts) {
  beginResetModel();
  prompts_ = std::move(prompts);
  endResetModel();
}

void PromptListModel::setShowText(bool show) {
  if (show == show_) return;
  show_ = show;
  Q_EMIT showTextChanged();
  if (!prompts_.empty()) Q_EMIT dataChanged(index(0), index(rowCount() - 1), {TextRole});
}

int PromptListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(prompts_.size()); }

QVariant PromptListModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const sq::Prompt& p = prompts_[size_t(index.row())];
  switch (role) {
    case IdRole: return QString::fromStdString(p.id);
    case LabelRole: return p.label ? QStringLiteral("malicious") : QStringLiteral("benign");
    case SourceRole: return QString::fromStdString(p.source);
    case TextRole: return show_ ? QString::fromStdString(p.text) : QString();
  }
  return {};
}

QHash<int, QByteArray> PromptListModel::roleNames() const {
  return {{IdRole, "promptId"}, {LabelRole, "label"}, {SourceRole, "source"}, {TextRole, "promptText"}};
}
