#include "warrenctl/table_renderer.h"

#include <algorithm>

namespace warren::ctl {
namespace {

size_t displayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;  // count code points, not continuation bytes
  return n;
}

// Cells are single-line: control characters would break the alignment (and the terminal).
std::string cellText(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  return out;
}

}  // namespace

std::string renderTable(const Table& table, const std::string& empty_message) {
  if (table.rows.empty() && !empty_message.empty()) return empty_message + "\n";
  const size_t cols = table.headers.size();
  std::vector<std::vector<std::string>> cells;
  cells.push_back(table.headers);
  for (const auto& r : table.rows) {
    std::vector<std::string> row(cols);
    for (size_t i = 0; i < cols && i < r.size(); ++i) row[i] = cellText(r[i]);
    cells.push_back(std::move(row));
  }
  std::vector<size_t> width(cols, 0);
  for (const auto& row : cells)
    for (size_t i = 0; i < cols; ++i) width[i] = std::max(width[i], displayWidth(row[i]));
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < cols; ++i) {
      line += row[i];
      if (i + 1 < cols) line += std::string(width[i] - displayWidth(row[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace warren::ctl
