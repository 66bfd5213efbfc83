#include "base/status.h"

#include <gtest/gtest.h>

namespace keystone {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  KS_ASSIGN_OR_RETURN(int half, Half(x));
  KS_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ("OK", s.ToString());
}

TEST(StatusTest, CarriesCodeAndMessageWithContext) {
  Status s = NotFound("table users").WithContext("DescribeTable");
  EXPECT_EQ(StatusCode::kNotFound, s.code());
  EXPECT_EQ("DescribeTable: table users", s.message());
  EXPECT_EQ("NOT_FOUND: DescribeTable: table users", s.ToString());
}

TEST(StatusTest, ResultPropagatesThroughMacros) {
  EXPECT_EQ(3, *Quarter(12));
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ("odd: 3", odd.status().message());
}

}  // namespace
}  // namespace keystone
