#include "simulator/validation/csv_table.h"

#include <fstream>
#include <sstream>

#include "simulator/core/strings.h"

namespace echosim {

int CsvTable::ColumnIndex(const std::string& column) const {
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == column) return static_cast<int>(c);
  }
  return -1;
}

StatusOr<std::string> CsvTable::Get(size_t row, const std::string& column) const {
  const int c = ColumnIndex(column);
  if (c < 0) {
    return InvalidArgument(StrCat(path, ": no column '", column, "'; columns: ", Join(header, ", ")));
  }
  if (static_cast<size_t>(c) >= rows[row].size()) {
    return InvalidArgument(StrCat(path, ":", line_numbers[row], ": missing column '", column, "'"));
  }
  return rows[row][static_cast<size_t>(c)];
}

StatusOr<CsvTable> ParseCommentedCsv(const std::string& text, const std::string& source) {
  CsvTable t;
  t.path = source;
  const size_t n = text.size();
  size_t i = 0;
  int line = 1;
  while (i < n) {
    // At the start of a record: comments and blank lines are skipped whole.
    if (text[i] == '#') {
      while (i < n && text[i] != '\n') ++i;
      if (i < n) ++i;
      ++line;
      continue;
    }
    if (text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) {
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    const int record_line = line;
    std::vector<std::string> cells;
    bool end_of_record = false;
    while (!end_of_record) {
      std::string cell;
      if (i < n && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          const char ch = text[i];
          if (ch == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              cell += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (ch == '\n') ++line;
          cell += ch;
          ++i;
        }
        if (!closed) {
          return InvalidArgument(StrCat(source, ":", record_line, ": unterminated quoted field (",
                                        "a '\"' opens it and none closes it)"));
        }
        if (i < n && text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
        if (i < n && text[i] != ',' && text[i] != '\n') {
          return InvalidArgument(StrCat(source, ":", line, ": unexpected character '", text[i],
                                        "' after a closing quote (expected ',' or end of line)"));
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n') {
          if (text[i] == '"') {
            return InvalidArgument(StrCat(source, ":", line, ": '\"' inside an unquoted field; ",
                                          "quote the whole field and double the quote"));
          }
          cell += text[i];
          ++i;
        }
        if (!cell.empty() && cell.back() == '\r' && (i >= n || text[i] == '\n')) cell.pop_back();
      }
      cells.push_back(std::move(cell));
      if (i >= n) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // '\n'
        ++i;
        ++line;
        end_of_record = true;
      }
    }
    if (t.header.empty()) {
      t.header = std::move(cells);
    } else {
      if (cells.size() != t.header.size()) {
        return InvalidArgument(StrCat(source, ":", record_line, ": expected ", t.header.size(),
                                      " cells, got ", cells.size()));
      }
      t.rows.push_back(std::move(cells));
      t.line_numbers.push_back(record_line);
    }
  }
  if (t.header.empty()) return InvalidArgument(StrCat(source, ": no header line"));
  return t;
}

StatusOr<CsvTable> ReadCommentedCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot open '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseCommentedCsv(ss.str(), path);
}

}  // namespace echosim
