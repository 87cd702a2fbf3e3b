#include "core/probe/metrics.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace sq {

ProbeMetrics probe_metrics(const std::vector<float>& logits, const std::vector<int>& labels) {
  if (logits.size() != labels.size() || logits.empty()) throw Error("probe metrics need one logit per label");
  ProbeMetrics m;
  double tp = 0, tn = 0, pos = 0, neg = 0, sum_pos = 0, sum_neg = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const bool said = logits[i] > 0;
    if (labels[i]) {
      ++pos;
      tp += said;
      sum_pos += logits[i];
    } else {
      ++neg;
      tn += !said;
      sum_neg += logits[i];
    }
  }
  m.accuracy = (tp + tn) / double(logits.size());
  if (pos == 0 || neg == 0) {
    m.balanced_accuracy = m.accuracy;
    m.auc = 0.5;
    return m;
  }
  m.balanced_accuracy = (tp / pos + tn / neg) / 2;
  m.margin = sum_pos / pos - sum_neg / neg;
  // Mann-Whitney: the average rank of the positives, ties sharing their mean rank.
  std::vector<size_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] < logits[b]; });
  double rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && logits[order[j]] == logits[order[i]]) ++j;
    const double mean_rank = (double(i) + double(j - 1)) / 2 + 1;
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]]) rank_sum += mean_rank;
    i = j;
  }
  m.auc = (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
  return m;
}

}  // namespace sq
