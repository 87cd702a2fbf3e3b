#pragma once
// Held-out quality of one probe from its logits (w . x + b) and the true labels.
#include <vector>

namespace sq {

struct ProbeMetrics {
  double accuracy = 0;           // logit > 0 means malicious
  double balanced_accuracy = 0;  // mean of the two classes' recalls
  double auc = 0;                // ROC AUC, ties counted half
  double margin = 0;             // mean logit of malicious minus mean logit of benign
};

ProbeMetrics probe_metrics(const std::vector<float>& logits, const std::vector<int>& labels);

}  // namespace sq
