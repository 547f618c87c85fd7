// Output files that appear whole or not at all.
//
// An AtomicFile writes into a temporary file next to its destination (same folder, so the final
// rename cannot cross file systems). commit() flushes it, fsyncs it, renames it over the
// destination and fsyncs the folder; until then the destination is untouched. If the object is
// destroyed without commit() (an exception, a failed run), the temporary file is removed, so a
// failed run leaves no partial output behind.
//
// Jobs should construct their AtomicFiles before the computation starts: construction creates
// the temporary file, so an output folder that does not exist or is not writable is reported at
// once, not after an hour of computation.
//
// Files are created with mode 0600 (owner only): outputs of a joint computation are
// confidential unless their owner decides otherwise.
//
// Errors: ConfigError naming the destination and the system's reason (exit code 2: the output
// path comes from the command line). Not thread-safe; one writer per object.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace sm::app {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path destination);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends to the temporary file (buffered).
  void write(std::string_view data);
  // Makes the written content the destination's content. Call at most once; no writes after.
  void commit();

  const std::filesystem::path& destination() const { return destination_; }

 private:
  void flush();
  [[noreturn]] void fail(const std::string& detail, int error) const;

  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  std::string buffer_;
  bool committed_ = false;
};

// Writes `content` to `destination` atomically (an AtomicFile written once and committed).
void write_file_atomically(const std::filesystem::path& destination, std::string_view content);

}  // namespace sm::app
