#pragma once
// Named points in the writing of outputs where a test may kill the process for real: with
// SAFEQUANT_CRASH_AT=N in the environment, the N-th point reached raises SIGKILL (with a step name
// instead of a number, the first point of that name). Tests walk N from 1 until a run completes,
// and check after each kill that no output is lost or half written. Without the variable a point
// costs one branch.
namespace sq {

void crash_point(const char* step);

}  // namespace sq
