// Reading CSV input files: RFC 4180 fields (quotes, doubled quotes, commas inside quotes),
// surrounding whitespace trimmed, blank lines skipped.
//
// Every problem is an InputError that names the file and, where it applies, the line and the
// column (1-based): an unreadable or empty file, a row with a different number of cells than the
// first, an unterminated quote, a cell that is not a number, NaN or infinity.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sm::app {

struct CsvTable {
  std::filesystem::path file;
  std::vector<std::string> header;             // empty when the file has none
  std::vector<std::vector<std::string>> rows;  // the data rows, all of header's width
  std::vector<std::size_t> lines;              // the file line of each data row

  std::size_t columns() const { return rows.empty() ? header.size() : rows.front().size(); }
  // "file:line:column" for a data cell, for error messages.
  std::string where(std::size_t row, std::size_t column) const;
  // The index of a header column; InputError listing the available columns if absent.
  std::size_t column_index(std::string_view name) const;
};

enum class HeaderRule {
  kRequired,  // the first row is the header
  kDetect,    // the first row is a header if any of its cells is not a number
};

// Whether a file with a header but no data rows is valid (an empty set for PSI) or an error.
enum class EmptyRule { kRefuse, kAllow };

CsvTable read_csv(const std::filesystem::path& file, HeaderRule rule,
                  EmptyRule empty = EmptyRule::kRefuse);

// A numeric cell: an exact integer when it is written as one, else a finite double.
using Number = std::variant<std::int64_t, double>;

// Parses the cell at (row, column); InputError "file:line:column: ..." when it is empty, not a
// number, NaN or infinite.
Number parse_number(const CsvTable& table, std::size_t row, std::size_t column);

}  // namespace sm::app
