// shoalctl's text output: aligned tables in the style of `consul members` and `nodetool status`
// (upper-case headers, two spaces between columns, numbers right-aligned), and human units.
//
// Thread rules: pure functions; a Table is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shoal::ctl {

class Table {
 public:
  enum class Align { kLeft, kRight };

  // `headers` fixes the column count; `align` (same length, or empty for all left) sets each
  // column's alignment.
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});

  // Appends a row; missing cells are blank, extra cells are dropped.
  void add(std::vector<std::string> row);
  // The table as text: header line, then one line per row, each ending in '\n'. Trailing
  // spaces are trimmed. Widths count bytes (node ids and object names are printed as given).
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

// 1536 -> "1.5 KiB" (IEC units, one decimal from KiB up; "0 B", "999 B").
std::string human_bytes(double bytes);
// Bytes per second -> "1.5 MiB/s".
std::string human_rate(double bytes_per_second);
// Seconds -> "45s", "3m05s", "2h03m", "4d03h".
std::string human_duration(double seconds);
// A fraction -> "12.5%".
std::string percent(double fraction);
// A number with up to 6 significant digits, no trailing zeros ("1", "0.5", "1e+15").
std::string number(double v);

}  // namespace shoal::ctl
