#pragma once
// Training that gives the same bytes on every x86-64 CPU. Three things reach the weights besides
// the data and the seed, all chosen by the machine when left alone:
// - ATen's CPU capability: its AVX-512 kernels sum and round otherwise than its AVX2 ones, and even
//   torch::randn draws through another code path (the initial weights differ);
// - OpenBLAS's kernel, picked per CPU model at load (SkylakeX, Cooperlake, SapphireRapids, Zen…),
//   each with its own blocking and so its own order of summation;
// - the thread count, which splits ATen's reductions.
// The zoo pins all three to what every CPU the project runs on has: ATen's AVX2 kernels, OpenBLAS's
// Haswell kernels (AVX2 + FMA) and two threads. The libraries read the first two when they load,
// so a process sets them in its environment and starts itself again (reexec_reproducible).
// Plain C++.
#include <string>
#include <utility>
#include <vector>

namespace sq {

// Threads that training computes with, on any machine.
constexpr int kReproducibleThreads = 2;

// The environment variables and the values they are pinned to.
const std::vector<std::pair<std::string, std::string>>& reproducible_environment();

// What the running process actually computes with, read back from the libraries themselves.
struct ComputeSettings {
  std::string aten_capability;  // "avx2", "avx512", "default"
  std::string blas;             // OpenBLAS's core name ("Haswell"), or "reference BLAS (not OpenBLAS)"
  std::string cpu;              // the CPU's model name (/proc/cpuinfo), for the record only
  bool cpu_has_avx2_fma = false;
};
ComputeSettings compute_settings();

// Empty when this process trains reproducibly; otherwise what differs from the pinned settings,
// one line each, so that the refusal can say it.
std::vector<std::string> reproducibility_problems();

// When the environment is not the pinned one yet: sets it and replaces this process with a fresh
// run of the same program and arguments (execv of /proc/self/exe), so that the libraries load
// under it. Returns when nothing needed changing. Throws sq::Error when the CPU lacks AVX2 and FMA
// (then no pinned training can run here) or when the exec fails.
void reexec_reproducible(char** argv);

}  // namespace sq
