#pragma once
// How many threads LibTorch computes with. A job alone takes every core; jobs that share the
// machine (two evaluations, a sweep's runs, a build beside them) each take the cores the others
// leave free. OpenMP threads that wait by spinning on a core another process needs lose nearly
// all their throughput: two evaluations of the demo model at once, 2 threads each, kept 5 % of
// their speed alone; at 1 thread each, 92 % (bench_contention).
namespace sq {

// Starts fitting, once per process: a background thread samples every core's use (/proc/stat)
// and this process's own (/proc/self/stat) four times a second, and sets the count to the cores
// that the other processes leave free (at least one). OMP_NUM_THREADS, when set, fixes it.
void start_thread_fitting();

// Applies the fitted count to the calling thread; the compute loops call it at each forward pass
// and block (an atomic read when nothing changed). OpenMP keeps the count per thread, so only
// the computing thread itself can change it.
void fit_threads();

// The count the compute threads apply now, and how it is chosen ("fitted to the free cores of
// N" or "fixed by OMP_NUM_THREADS").
int fitted_threads();
const char* thread_policy();

// While alive, the calling thread computes with every core whatever the load, and fit_threads()
// leaves it so. Training and quantization results depend on the thread count (the order of
// reductions), so the zoo and quantization runs hold one: a demo zoo trained beside another job
// came out different from one trained alone, and tests of its behaviour failed on it; a sweep's
// learned runs made as 1-CPU Slurm tasks differed from the same runs made locally at 2 threads
// (task accuracy by up to 7 points). A quantization run therefore holds the count its options
// name, whatever the CPUs it was given. Inference is fitted: its completions were the same at 1
// and 2 threads.
class HeldThreadsScope {
 public:
  // `threads` <= 0: every core (or OMP_NUM_THREADS when set).
  explicit HeldThreadsScope(int threads = 0);
  ~HeldThreadsScope();
  HeldThreadsScope(const HeldThreadsScope&) = delete;
  HeldThreadsScope& operator=(const HeldThreadsScope&) = delete;

 private:
  int before_;
};

// Every core of this machine, or OMP_NUM_THREADS when set: the count a held scope takes by default.
int every_core_count();

}  // namespace sq
