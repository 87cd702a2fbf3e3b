#pragma once
// Where the shipped data (prompt sets, refusal lists) is: $SAFEQUANT_DATA, else the installed
// share/safequant/data beside the executable, else the source tree's resources/data. And where
// the user's cache is (demo zoo, verified manifests).
#include <string>

namespace sq {

std::string data_dir();                        // throws sq::Error when none exists
std::string data_file(const std::string& name);  // data_dir()/name
std::string cache_dir();                       // $XDG_CACHE_HOME/safequant, else ~/.cache/safequant

}  // namespace sq
