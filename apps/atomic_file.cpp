#include "apps/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "net/errors.hpp"

namespace sm::app {

namespace {

constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path destination) : destination_(std::move(destination)) {
  if (destination_.filename().empty()) {
    throw ConfigError("cannot write " + destination_.string() + ": not a file name");
  }
  const std::filesystem::path folder =
      destination_.has_parent_path() ? destination_.parent_path() : std::filesystem::path(".");
  std::string hidden_name = ".";
  hidden_name += destination_.filename().string();
  hidden_name += ".XXXXXX.tmp";
  const std::string pattern = (folder / hidden_name).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = ::mkostemps(name.data(), 4, O_CLOEXEC);
  if (fd_ < 0) fail("cannot create a temporary file in " + folder.string(), errno);
  temporary_ = name.data();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

void AtomicFile::write(std::string_view data) {
  if (committed_) throw std::logic_error("AtomicFile::write after commit");
  buffer_.append(data);
  if (buffer_.size() >= kBufferBytes) flush();
}

void AtomicFile::flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t written = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("", errno);
    }
    done += static_cast<std::size_t>(written);
  }
  buffer_.clear();
}

void AtomicFile::commit() {
  if (committed_) throw std::logic_error("AtomicFile::commit called twice");
  flush();
  if (::fsync(fd_) != 0) fail("", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("", errno);
  if (::rename(temporary_.c_str(), destination_.c_str()) != 0) fail("rename failed", errno);
  committed_ = true;
  // Make the rename itself durable. Best effort: the data is in place either way.
  const std::filesystem::path folder =
      destination_.has_parent_path() ? destination_.parent_path() : std::filesystem::path(".");
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

void AtomicFile::fail(const std::string& detail, int error) const {
  throw ConfigError("cannot write " + destination_.string() +
                    (detail.empty() ? "" : " (" + detail + ")") + ": " + std::strerror(error));
}

void write_file_atomically(const std::filesystem::path& destination, std::string_view content) {
  AtomicFile file(destination);
  file.write(content);
  file.commit();
}

}  // namespace sm::app
