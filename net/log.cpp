#include "net/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace sm {

namespace {

const char* level_name(Logger::Level level) {
  switch (level) {
    case Logger::Level::kDebug: return "debug";
    case Logger::Level::kInfo: return "info";
    case Logger::Level::kWarn: return "warn";
    case Logger::Level::kError: return "error";
    case Logger::Level::kQuiet: break;
  }
  return "";
}

}  // namespace

void Logger::set_name(std::string name) {
  std::lock_guard lock(mutex_);
  name_ = std::move(name);
}

void Logger::write(Level level, std::string_view message) {
  if (level < level_ || level == Level::kQuiet) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);

  std::lock_guard lock(mutex_);
  std::fprintf(stderr, "%s.%03d [%s] %s: %.*s\n", stamp, static_cast<int>(millis), name_.c_str(),
               level_name(level), static_cast<int>(message.size()), message.data());
}

}  // namespace sm
