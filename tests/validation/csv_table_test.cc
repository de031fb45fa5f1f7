// The CSV dialect of the measured tables: quotes, doubled quotes, comments, CRLF, and
// errors that name the file and line.
#include "simulator/validation/csv_table.h"

#include <gtest/gtest.h>

namespace echosim {
namespace {

TEST(CsvTableTest, QuotedHeaderCellsAndCommasInsideQuotes) {
  auto t = ParseCommentedCsv(
      "# a comment, with a comma\n"
      "model,\"Est. time (10T tokens, 1K GPUs)\",x\n"
      "a,\"1, 2\",\"say \"\"hi\"\"\"\n"
      "\n"
      "b,,\n",
      "t.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->header, (std::vector<std::string>{"model", "Est. time (10T tokens, 1K GPUs)", "x"}));
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0], (std::vector<std::string>{"a", "1, 2", "say \"hi\""}));
  EXPECT_EQ(t->rows[1], (std::vector<std::string>{"b", "", ""}));
  EXPECT_EQ(t->line_numbers, (std::vector<int>{3, 5}));
  EXPECT_EQ(*t->Get(0, "Est. time (10T tokens, 1K GPUs)"), "1, 2");
  EXPECT_EQ(t->ColumnIndex("nope"), -1);
  auto missing = t->Get(0, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("t.csv: no column 'nope'; columns: model"),
            std::string::npos);
}

TEST(CsvTableTest, CrLfAndQuotedNewlines) {
  auto t = ParseCommentedCsv("a,b\r\n\"x\ny\",2\r\nz,3\r\n", "crlf.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0][0], "x\ny");
  EXPECT_EQ(t->rows[0][1], "2");
  EXPECT_EQ(t->rows[1], (std::vector<std::string>{"z", "3"}));
  EXPECT_EQ(t->line_numbers, (std::vector<int>{2, 4}));
}

TEST(CsvTableTest, ErrorsNameFileAndLine) {
  auto short_row = ParseCommentedCsv("# c\na,b\n1,2\n3\n", "bad.csv");
  ASSERT_FALSE(short_row.ok());
  EXPECT_NE(short_row.status().message().find("bad.csv:4: expected 2 cells, got 1"),
            std::string::npos)
      << short_row.status().message();
  auto open_quote = ParseCommentedCsv("a,b\n1,\"2\n", "q.csv");
  ASSERT_FALSE(open_quote.ok());
  EXPECT_NE(open_quote.status().message().find("q.csv:2: unterminated quoted field"),
            std::string::npos)
      << open_quote.status().message();
  auto after_quote = ParseCommentedCsv("a,b\n\"1\"x,2\n", "after.csv");
  ASSERT_FALSE(after_quote.ok());
  EXPECT_NE(after_quote.status().message().find("after.csv:2: unexpected character 'x'"),
            std::string::npos)
      << after_quote.status().message();
  auto stray = ParseCommentedCsv("a,b\n1,2\"3\n", "stray.csv");
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.status().message().find("stray.csv:2: '\"' inside an unquoted field"),
            std::string::npos);
  auto empty = ParseCommentedCsv("# only comments\n\n", "empty.csv");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty.csv: no header line"), std::string::npos);
  auto missing = ReadCommentedCsv("/nonexistent/echosim.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open '/nonexistent/echosim.csv'"),
            std::string::npos);
}

}  // namespace
}  // namespace echosim
