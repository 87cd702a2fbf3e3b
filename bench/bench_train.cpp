// Training throughput of the demo model's shape (hidden 128, 4 layers, batch 32 of ~70 tokens):
// steps per second with 1 and 2 intra-op threads, and two independent runs side by side with one
// thread each (how the zoo trains its leave-one-source-out models). Prints ratios taken in one run.
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/run/allocator.h"
#include "core/zoo/trainer.h"

namespace {

sq::ModelConfig demo_config() {
  sq::ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 1024, c.hidden_size = 128, c.intermediate_size = 384, c.num_layers = 4, c.num_heads = 4;
  c.num_kv_heads = 2, c.head_dim = 32, c.max_position_embeddings = 256, c.tie_word_embeddings = true;
  return c;
}

std::vector<sq::Sequence> data() {
  std::vector<sq::Sequence> d;
  for (int i = 0; i < 64; ++i) {
    sq::Sequence s;
    const int n = 50 + (i * 7) % 40;
    for (int t = 0; t < n; ++t) s.tokens.push_back(int32_t((i * 31 + t * 17) % 1000 + 3)), s.learn.push_back(t > n / 2);
    d.push_back(s);
  }
  return d;
}

double seconds_for(int64_t steps, uint64_t seed) {
  sq::Params p = sq::init_params(demo_config(), seed);
  sq::TrainOptions o;
  o.steps = steps;
  const auto t0 = std::chrono::steady_clock::now();
  sq::train(p, demo_config(), data(), o, {});
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
  sq::keep_freed_memory();  // as the executables do
  const int64_t steps = 20;
  at::set_num_threads(2);
  seconds_for(2, 0);  // warm-up
  const double two = seconds_for(steps, 1);
  at::set_num_threads(1);
  const double one = seconds_for(steps, 1);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread a([&] { seconds_for(steps, 2); }), b([&] { seconds_for(steps, 3); });
  a.join(), b.join();
  const double pair = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("steps/s: 2 threads %.2f, 1 thread %.2f, two 1-thread runs side by side %.2f (together)\n", steps / two,
              steps / one, 2 * steps / pair);
  std::printf("ratio side by side / 2 threads: %.2f\n", (2 * steps / pair) / (steps / two));
}
