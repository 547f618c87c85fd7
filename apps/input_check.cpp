#include "apps/input_check.hpp"

#include "net/errors.hpp"
#include "net/wire.hpp"

namespace sm::app {

std::vector<std::map<std::string, std::string>> exchange_input_status(net::Mesh& mesh,
                                                                      const InputStatus& mine) {
  net::ByteWriter out;
  out.string(mine.error);
  out.u32(static_cast<std::uint32_t>(mine.facts.size()));
  for (const auto& [key, value] : mine.facts) {
    out.string(key);
    out.string(value);
  }
  const auto all = mesh.broadcast(out.take(), "input check");

  std::vector<std::map<std::string, std::string>> facts(mesh.size());
  std::string problems;
  for (net::PartyId p = 0; p < mesh.size(); ++p) {
    net::ByteReader in(all[p], "input status from " + mesh.describe(p));
    const std::string error = in.string();
    const std::uint32_t count = in.u32();
    for (std::uint32_t i = 0; i < count; ++i) {
      std::string key = in.string();
      facts[p][key] = in.string();
    }
    in.expect_end();
    if (!error.empty()) {
      problems += (problems.empty() ? "" : "; ") + mesh.describe(p) + ": " + error;
    }
  }
  if (!problems.empty()) {
    throw InputError("bad input, nothing was computed: " + problems);
  }
  return facts;
}

void require_same(const net::Mesh& mesh,
                  const std::vector<std::map<std::string, std::string>>& facts,
                  const std::string& fact, const std::string& what) {
  bool same = true;
  std::string listing;
  for (net::PartyId p = 0; p < facts.size(); ++p) {
    const auto it = facts[p].find(fact);
    const std::string value = it == facts[p].end() ? "(none)" : it->second;
    same = same && value == facts[0].at(fact);
    listing += (p ? "; " : "") + mesh.describe(p) + " has " + value;
  }
  if (!same) {
    throw InputError("the parties' " + what + " differ, nothing was computed: " + listing);
  }
}

}  // namespace sm::app
