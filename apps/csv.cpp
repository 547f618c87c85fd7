#include "apps/csv.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "net/errors.hpp"

namespace sm::app {

namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

bool looks_numeric(std::string_view cell) {
  cell = trim(cell);
  if (cell.empty()) return false;
  double value = 0;
  const auto [end, error] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  return error == std::errc() && end == cell.data() + cell.size();
}

// Splits one record starting at `text[at]`; advances `at` past it and `line` past its newlines.
std::vector<std::string> split_record(const std::string& text, std::size_t& at, std::size_t& line,
                                      const std::filesystem::path& file) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false, was_quoted = false;
  const std::size_t start_line = line;
  for (; at < text.size(); ++at) {
    const char c = text[at];
    if (quoted) {
      if (c == '"' && at + 1 < text.size() && text[at + 1] == '"') {
        cell += '"';
        ++at;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
    } else if (c == '"' && trim(cell).empty()) {
      quoted = was_quoted = true;
      cell.clear();
    } else if (c == ',') {
      cells.push_back(was_quoted ? cell : std::string(trim(cell)));
      cell.clear();
      was_quoted = false;
    } else if (c == '\n') {
      ++at;
      ++line;
      break;
    } else {
      cell += c;
    }
  }
  if (quoted) {
    throw InputError(file.string() + ":" + std::to_string(start_line) +
                     ": a quoted cell is never closed");
  }
  cells.push_back(was_quoted ? cell : std::string(trim(cell)));
  return cells;
}

}  // namespace

std::string CsvTable::where(std::size_t row, std::size_t column) const {
  return file.string() + ":" + std::to_string(lines.at(row)) + ":" + std::to_string(column + 1);
}

std::size_t CsvTable::column_index(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  std::string available;
  for (const auto& column : header) available += (available.empty() ? "" : ", ") + column;
  throw InputError(file.string() + ": no column '" + std::string(name) +
                   "'; the columns are: " + (available.empty() ? "(none)" : available));
}

CsvTable read_csv(const std::filesystem::path& file, HeaderRule rule, EmptyRule empty) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot be opened for reading");
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(file.string() + ": read error");
  const std::string text = buffer.str();

  CsvTable table;
  table.file = file;
  std::size_t at = 0, line = 1;
  bool first = true;
  while (at < text.size()) {
    const std::size_t record_line = line;
    auto cells = split_record(text, at, line, file);
    if (cells.size() == 1 && cells[0].empty()) continue;  // blank line
    if (first) {
      first = false;
      bool header = rule == HeaderRule::kRequired;
      if (rule == HeaderRule::kDetect) {
        for (const auto& cell : cells) header = header || !looks_numeric(cell);
      }
      if (header) {
        table.header = std::move(cells);
        continue;
      }
    }
    const std::size_t width = table.header.empty() && !table.rows.empty()
                                  ? table.rows.front().size()
                                  : (table.header.empty() ? cells.size() : table.header.size());
    if (cells.size() != width) {
      throw InputError(file.string() + ":" + std::to_string(record_line) + ": " +
                       std::to_string(cells.size()) + " cells where the file has " +
                       std::to_string(width) + " columns");
    }
    table.rows.push_back(std::move(cells));
    table.lines.push_back(record_line);
  }
  if (table.rows.empty() && (table.header.empty() || empty == EmptyRule::kRefuse)) {
    throw InputError(file.string() + (table.header.empty() ? ": the file is empty"
                                                           : ": the file has no data rows"));
  }
  return table;
}

Number parse_number(const CsvTable& table, std::size_t row, std::size_t column) {
  const std::string& cell = table.rows.at(row).at(column);
  if (cell.empty()) throw InputError(table.where(row, column) + ": the cell is empty");
  const char* begin = cell.data();
  const char* end = cell.data() + cell.size();
  std::int64_t integer = 0;
  auto parsed = std::from_chars(begin, end, integer);
  if (parsed.ec == std::errc() && parsed.ptr == end) return integer;
  double value = 0;
  parsed = std::from_chars(begin, end, value);
  if (parsed.ec == std::errc::result_out_of_range) {
    throw InputError(table.where(row, column) + ": '" + cell + "' is out of range");
  }
  if (parsed.ec != std::errc() || parsed.ptr != end) {
    throw InputError(table.where(row, column) + ": '" + cell + "' is not a number");
  }
  if (!std::isfinite(value)) {
    throw InputError(table.where(row, column) + ": '" + cell + "' is not a finite number");
  }
  return value;
}

}  // namespace sm::app
