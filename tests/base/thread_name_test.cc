#include "base/thread_name.h"

#include <gtest/gtest.h>

#include <thread>

namespace keystone {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  std::string before = ThreadName();
  std::string seen;
  std::thread t([&] {
    SetThreadName("src:orders");
    seen = ThreadName();
  });
  t.join();
  EXPECT_EQ("src:orders", seen);
  EXPECT_EQ(before, ThreadName());
}

TEST(ThreadNameTest, LongNamesAreCutTo15Bytes) {
  std::string seen;
  std::thread t([&] {
    SetThreadName("read:a-source-with-a-long-name");
    seen = ThreadName();
  });
  t.join();
  EXPECT_EQ("read:a-source-w", seen);
}

}  // namespace
}  // namespace keystone
