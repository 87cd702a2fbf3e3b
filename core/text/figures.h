#pragma once
// Figures as the reports print them: printf formats of up to four numbers, and the mean of a list.
// Plain C++.
#include <string>
#include <vector>

namespace sq {

// `format` (a printf format of up to four doubles) applied to the numbers; at most 255 characters.
std::string figure_text(const char* format, double a, double b = 0, double c = 0, double d = 0);

// The arithmetic mean; 0 for no values.
double mean_of(const std::vector<double>& values);

}  // namespace sq
