#pragma once
// OpenBLAS picks its kernels by CPU model when it loads. On a model newer than it knows (Debian 12's
// OpenBLAS 0.3.21 on Intel's family 6 model 207) it falls back to Prescott's SSE3 kernels, and
// every fp32 product it does (GPTQ's Hessians and updates, fp32 checkpoints, training) runs at a
// fraction of the CPU's speed: GPTQ's Hessian of a 8192-wide layer took 4-6x as long. A program
// started on such a CPU names the kernels the CPU can run and starts itself again under them.
// Plain C++.
#include <string>

namespace sq {

// The BLAS and the kernel set it chose: "OpenBLAS Haswell", …, or "reference BLAS (not OpenBLAS)",
// which has no such choice.
std::string blas_name();

// The OpenBLAS kernel set this CPU's instructions allow: "SkylakeX" with AVX-512 F, BW, DQ and VL,
// "Haswell" with AVX2 and FMA, else empty.
std::string blas_kernels_for_this_cpu();

// When OpenBLAS chose Prescott's kernels, OPENBLAS_CORETYPE is unset and the CPU allows better:
// sets OPENBLAS_CORETYPE to them and replaces this process with a fresh run of the same program
// and arguments (execv of /proc/self/exe). Returns when nothing needs changing or the exec fails.
void reexec_with_fitting_blas(char** argv);

}  // namespace sq
