// A small thread-safe logger that writes lines to stderr, each prefixed with the time and the
// party's name, e.g. "12:03:04.512 [hospital-a] warn: refused connection from 127.0.0.1: ...".
//
// A Logger is an ordinary object owned by the program (no global state); the mesh and the jobs
// take a reference to it. Lines are written whole, so concurrent threads never interleave.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace sm {

class Logger {
 public:
  enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kQuiet = 4 };

  explicit Logger(std::string name, Level level = Level::kInfo)
      : name_(std::move(name)), level_(level) {}

  void set_name(std::string name);
  void set_level(Level level) { level_ = level; }

  void debug(std::string_view message) { write(Level::kDebug, message); }
  void info(std::string_view message) { write(Level::kInfo, message); }
  void warn(std::string_view message) { write(Level::kWarn, message); }
  void error(std::string_view message) { write(Level::kError, message); }

  void write(Level level, std::string_view message);

 private:
  std::mutex mutex_;
  std::string name_;
  Level level_;
};

}  // namespace sm
