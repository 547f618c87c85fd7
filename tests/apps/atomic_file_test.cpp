// Output files appear whole or not at all, and leave nothing behind when a run fails.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <stdexcept>

#include "apps/atomic_file.hpp"
#include "net/errors.hpp"
#include "tests/apps/pki.hpp"

using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

std::size_t entries(const fs::path& folder) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(folder), {}));
}

}  // namespace

TEST_CASE("a committed file has the whole content and nothing else is left", "[atomic_file]") {
  sm::test::TempDir dir;
  const fs::path out = dir.path() / "result.csv";
  {
    sm::app::AtomicFile file(out);
    CHECK_FALSE(fs::exists(out));
    file.write("a,b\n");
    file.write(std::string(3 << 20, 'x'));  // more than the buffer
    CHECK_FALSE(fs::exists(out));
    file.commit();
  }
  CHECK(sm::test::read_text(out) == "a,b\n" + std::string(3 << 20, 'x'));
  CHECK(entries(dir.path()) == 1);
  struct stat info {};
  REQUIRE(::stat(out.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("an existing file is replaced only on commit", "[atomic_file]") {
  sm::test::TempDir dir;
  const fs::path out = dir.path() / "model.json";
  sm::test::write_text(out, "old");
  {
    sm::app::AtomicFile file(out);
    file.write("new");
    CHECK(sm::test::read_text(out) == "old");
    file.commit();
  }
  CHECK(sm::test::read_text(out) == "new");
  sm::app::write_file_atomically(out, "newer");
  CHECK(sm::test::read_text(out) == "newer");
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("a file abandoned by an exception leaves nothing behind", "[atomic_file]") {
  sm::test::TempDir dir;
  const fs::path out = dir.path() / "result.csv";
  sm::test::write_text(dir.path() / "previous.csv", "kept");
  try {
    sm::app::AtomicFile file(out);
    file.write("partial");
    throw std::runtime_error("the computation failed");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(fs::exists(out));
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("an unwritable destination fails at once, naming it", "[atomic_file]") {
  sm::test::TempDir dir;
  const fs::path out = dir.path() / "no-such-folder" / "result.csv";
  CHECK_THROWS_WITH(sm::app::AtomicFile(out),
                    Contains(out.string()) && Contains("No such file or directory"));
  CHECK_THROWS_AS(sm::app::AtomicFile(dir.path() / ""), sm::ConfigError);
}
