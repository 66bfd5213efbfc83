#include "base/thread_name.h"

#include <gtest/gtest.h>

#include <thread>

namespace keystone {
namespace {

// The name a new thread reads back after naming itself `name`.
std::string NameSeenByNewThread(const std::string& name) {
  std::string seen;
  std::thread t([&] {
    SetThreadName(name);
    seen = ThreadName();
  });
  t.join();
  return seen;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  std::string before = ThreadName();
  EXPECT_EQ("src:orders", NameSeenByNewThread("src:orders"));
  EXPECT_EQ(before, ThreadName());
}

TEST(ThreadNameTest, LongNamesAreCutTo15Bytes) {
  EXPECT_EQ("read:a-source-w", NameSeenByNewThread("read:a-source-with-a-long-name"));
}

}  // namespace
}  // namespace keystone
