// The input check every data job runs right after the session agreement, before any private
// data moves: each party reads and validates its own input, then all parties exchange in one
// round whether that worked and a few public facts about it (e.g. its shape).
//
// If any party's input is bad, every party throws InputError (exit code 3) with each failing
// party's message, so the run ends everywhere with the same explanation and no output is
// written anywhere.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "net/mesh.hpp"

namespace sm::app {

struct InputStatus {
  std::string error;                         // empty when the input is fine
  std::map<std::string, std::string> facts;  // public facts, e.g. {"rows", "100"}
};

// Returns every party's facts, indexed by party id.
std::vector<std::map<std::string, std::string>> exchange_input_status(net::Mesh& mesh,
                                                                      const InputStatus& mine);

// Throws InputError naming every party and its value of `fact` unless all parties agree.
void require_same(const net::Mesh& mesh,
                  const std::vector<std::map<std::string, std::string>>& facts,
                  const std::string& fact, const std::string& what);

}  // namespace sm::app
