#pragma once
// Instrumented builds run several times slower (tests/CMakeLists.txt sets SQ_TIME_SCALE), so every
// wait a test sets for a process or a job is scaled by the same factor as ctest's own limits.
#ifndef SQ_TIME_SCALE
#define SQ_TIME_SCALE 1
#endif

constexpr int scaledMs(int ms) { return ms * SQ_TIME_SCALE; }
