// What the train-lr and predict jobs share: reading a party's CSV block (ids, numeric features,
// an optional 0/1 label) with errors that name file, line and column, and the model file's
// share encoding. Header-only, used by apps/job_train_lr.cpp and apps/job_predict.cpp.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <openssl/sha.h>

#include "apps/csv.hpp"
#include "net/errors.hpp"

namespace sm::app {

struct LrTable {
  std::vector<std::string> ids;
  std::vector<std::string> names;            // feature columns, file order
  std::vector<std::vector<double>> columns;  // columns[c][row]
  std::vector<double> labels;                // empty without a label column
};

// Reads `path` (header required). The id column and the label column (if non-empty) must
// exist; every other column is a feature, or only `wanted` features if given. Throws InputError
// for a missing column, a duplicated or empty id, a non-numeric / empty / NaN cell, or a label
// other than 0 / 1.
inline LrTable read_lr_table(const std::string& path, const std::string& id_column,
                             const std::string& label_column,
                             const std::optional<std::vector<std::string>>& wanted = {}) {
  const CsvTable table = read_csv(path, HeaderRule::kRequired);
  const std::size_t id = table.column_index(id_column);
  // Without a label column, `label` is one past the last column, so no column equals it.
  const bool has_label = !label_column.empty();
  const std::size_t label =
      has_label ? table.column_index(label_column) : table.header.size();
  std::vector<std::size_t> features;
  if (wanted) {
    for (const auto& name : *wanted) features.push_back(table.column_index(name));
  } else {
    for (std::size_t c = 0; c < table.header.size(); ++c) {
      if (c != id && c != label) features.push_back(c);
    }
  }
  LrTable out;
  for (auto c : features) out.names.push_back(table.header[c]);
  out.columns.resize(features.size());
  std::map<std::string, std::size_t> seen;
  for (std::size_t row = 0; row < table.rows.size(); ++row) {
    const std::string& key = table.rows[row][id];
    if (key.empty()) throw InputError(table.where(row, id) + ": empty id");
    if (const auto [it, fresh] = seen.emplace(key, row); !fresh) {
      throw InputError(table.where(row, id) + ": id '" + key + "' already appears on line " +
                       std::to_string(table.lines[it->second]));
    }
    out.ids.push_back(key);
    for (std::size_t f = 0; f < features.size(); ++f) {
      const Number n = parse_number(table, row, features[f]);
      out.columns[f].push_back(std::holds_alternative<double>(n)
                                   ? std::get<double>(n)
                                   : static_cast<double>(std::get<std::int64_t>(n)));
    }
    if (has_label) {
      const std::string& cell = table.rows[row][label];
      if (cell != "0" && cell != "1") {
        throw InputError(table.where(row, label) + ": label '" + cell + "' is not 0 or 1");
      }
      out.labels.push_back(cell == "1" ? 1.0 : 0.0);
    }
  }
  if (table.rows.empty()) throw InputError(path + ": no data rows");
  return out;
}

// Short digests of ids (first 8 bytes of SHA-256, hex), so parties can compare id sets without
// sending the ids themselves.
inline std::string id_digest(const std::string& id) {
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), hash);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out += hex[hash[i] >> 4];
    out += hex[hash[i] & 15];
  }
  return out;
}

// A share (Ring64 or a field element) as hex text and back.
template <class E>
std::string element_hex(const E& e) {
  auto v = e.value();
  std::string out;
  do {
    out.insert(out.begin(), "0123456789abcdef"[static_cast<int>(v & 15)]);
    v >>= 4;
  } while (v != 0);
  return out;
}

template <class E>
E element_from_hex(const std::string& text) {
  decltype(E(0).value()) v = 0;
  for (char c : text) {
    const int digit = c >= 'a' ? c - 'a' + 10 : c - '0';
    if (digit < 0 || digit > 15) throw InputError("bad share '" + text + "' in the model file");
    v = (v << 4) | static_cast<unsigned>(digit);
  }
  return E(v);
}

}  // namespace sm::app
