#include "simulator/core/status.h"

#include <gtest/gtest.h>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgument(StrCat("x: ", x, " is odd"));
  return x / 2;
}

Status UseHalf(int x, int* out) {
  ECHOSIM_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(StatusTest, OkAndError) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFound("thing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: thing");
  EXPECT_EQ(s.WithContext("file.yaml").message(), "file.yaml: thing");
}

TEST(StatusTest, StatusOrPropagates) {
  int v = 0;
  EXPECT_TRUE(UseHalf(8, &v).ok());
  EXPECT_EQ(v, 4);
  Status s = UseHalf(3, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x: 3 is odd");
}

TEST(StringsTest, ParseChoiceListsValidNames) {
  enum class C { kA, kB };
  auto ok = ParseChoice<C>("field", "b", {{"a", C::kA}, {"b", C::kB}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, C::kB);
  auto bad = ParseChoice<C>("field", "z", {{"a", C::kA}, {"b", C::kB}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "field: unknown value 'z'; valid choices: a, b");
}

TEST(StatusDeathTest, CheckAbortsWithLocation) {
  EXPECT_DEATH(ECHOSIM_CHECK(1 == 2), "status_test.cc");
}

}  // namespace
}  // namespace echosim
