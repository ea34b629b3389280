// Aligned text tables in kubectl's style: upper-case headers, columns separated by three
// spaces, no trailing spaces. Pure.
#pragma once

#include <string>
#include <vector>

namespace warren::ctl {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;  // each row as long as headers (padded with "")
};

// "No resources found." style message when there are no rows and `empty_message` is set;
// otherwise headers and rows. Multi-byte UTF-8 counts by code point for alignment.
std::string renderTable(const Table& table, const std::string& empty_message = "");

}  // namespace warren::ctl
