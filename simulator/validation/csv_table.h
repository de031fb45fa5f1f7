// CsvTable: a comma-separated table with a header line, read by ReadCommentedCsv.
//
// The dialect is RFC 4180 plus comments: lines that start with '#' outside a quoted
// field are skipped; a field may be quoted ("a, b"), a quote inside a quoted field is
// doubled (""), and a quoted field may span lines. Cells are kept verbatim as strings
// (no trimming, no number parsing). Every error names the file and the line.
#ifndef ECHOSIM_SIMULATOR_VALIDATION_CSV_TABLE_H_
#define ECHOSIM_SIMULATOR_VALIDATION_CSV_TABLE_H_

#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct CsvTable {
  std::string path;  // where it was read from (for messages)
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> line_numbers;  // 1-based line where each row starts
  // The cell of `row` in `column`; the error names the column and lists the valid ones.
  StatusOr<std::string> Get(size_t row, const std::string& column) const;
  // Index of `column` in the header, or -1.
  int ColumnIndex(const std::string& column) const;
};

// Parses CSV text; `source` names it in errors ("<source>:<line>: ...").
StatusOr<CsvTable> ParseCommentedCsv(const std::string& text, const std::string& source);
// Reads and parses a file.
StatusOr<CsvTable> ReadCommentedCsv(const std::string& path);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_VALIDATION_CSV_TABLE_H_
