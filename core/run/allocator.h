#pragma once
// Freed memory stays with the process. LibTorch allocates and frees tensors of megabytes at every
// step of training, quantization and decoding; glibc hands such blocks back to the system (those
// above its mapping threshold at once, the heap's top past its trim threshold), so that the next
// step faults every page in again. The demo's cold start (packaging/studio.sh) took 26.7 million
// page faults so, and 5.2 million with the settings below; bench_train's run 1.1 million and 38 s,
// and 0.32 million and 22 s. The zoo's weights came out bit for bit the same: where memory comes
// from changes no arithmetic.
namespace sq {

// Called first thing by each executable; once is enough, more calls do nothing. No effect
// outside glibc.
void keep_freed_memory();

}  // namespace sq
