#pragma once
// Writing outputs so that a reader sees the old file or the complete new one, never a part:
// the bytes go to a temporary name in the same folder, are flushed, then renamed into place.
#include <functional>
#include <ostream>
#include <string>

namespace sq {

// Calls `write` with a stream on a temporary file beside `path`, then renames it to `path`.
// On any failure the temporary file is removed and sq::Error names `path` and the cause.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
// The same for a text given whole.
void write_text_atomically(const std::string& path, const std::string& text);

// Creates the folder `path` and its parents where missing; sq::Error names `path` and the cause.
void create_folder(const std::string& path);

}  // namespace sq
