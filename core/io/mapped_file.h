#pragma once
// A read-only memory map of a whole file. Weights stay in the page cache and are paged in on
// use; release() hands a range's pages back so that layer-by-layer work keeps memory flat.
#include <cstddef>
#include <string>

namespace sq {

// Refuses, naming it, a path that exists and is not a regular file: opening a FIFO to read
// blocks until something writes to it, and a device or a folder is no model file.
void require_regular_file(const std::string& path);

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws sq::Error naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Drops the resident pages of [offset, offset + length); they are read again on next use.
  void release(size_t offset, size_t length) const;

 private:
  std::string path_;
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sq
