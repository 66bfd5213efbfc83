#include "kafka_sink/murmur2.h"

#include <gtest/gtest.h>

#include <string>

namespace keystone::kafka {
namespace {

// Values from Kafka's own UtilsTest.testMurmur2 (the Java client).
TEST(Murmur2Test, MatchesJavaClient) {
  EXPECT_EQ(-973932308, Murmur2("21"));
  EXPECT_EQ(-790332482, Murmur2("foobar"));
  EXPECT_EQ(-985981536, Murmur2("a-little-bit-long-string"));
  EXPECT_EQ(-1486304829, Murmur2("a-little-bit-longer-string"));
  EXPECT_EQ(-58897971, Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"));
  EXPECT_EQ(479470107, Murmur2("abc"));
}

// Keystone-shaped keys, checked against python3-kafka's murmur2 (an
// independent implementation of the Java partitioner):
//   kafka.partitioner.default.murmur2(key) & 0x7fffffff) % n
TEST(Murmur2Test, MatchesPythonKafkaForKeystoneKeys) {
  EXPECT_EQ(275646681, Murmur2(""));
  EXPECT_EQ(988361738, Murmur2(R"({"pk":"user#1"})"));
  EXPECT_EQ(1744397934, Murmur2(R"({"pk":"user#2"})"));
  EXPECT_EQ(-1069155374, Murmur2(R"({"pk":"user#42","sk":"profile"})"));
}

TEST(Murmur2Test, PartitionIsPositiveHashModuloCount) {
  // Negative hashes are made positive by masking the sign bit, not by abs().
  EXPECT_EQ(0, PartitionForKey("21", 6));
  EXPECT_EQ(0, PartitionForKey("foobar", 6));
  EXPECT_EQ(2, PartitionForKey("foobar", 4));
  EXPECT_EQ(2, PartitionForKey("a-little-bit-long-string", 6));
  EXPECT_EQ(5, PartitionForKey("a-little-bit-longer-string", 6));
  EXPECT_EQ(3, PartitionForKey("a-little-bit-longer-string", 4));
  EXPECT_EQ(5, PartitionForKey("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 6));
  EXPECT_EQ(3, PartitionForKey("abc", 6));
  EXPECT_EQ(2, PartitionForKey(R"({"pk":"user#1"})", 6));
  EXPECT_EQ(0, PartitionForKey(R"({"pk":"user#2"})", 6));
  EXPECT_EQ(2, PartitionForKey(R"({"pk":"user#42","sk":"profile"})", 4));
}

TEST(Murmur2Test, BinaryKeysAndAllTailLengths) {
  // Bytes >= 0x80 are unsigned in the hash (Java masks with 0xff); the value
  // is python3-kafka's murmur2(bytes([0x80, 0xff, 0x01])) as a signed int.
  EXPECT_EQ(-643063393, Murmur2(std::string("\x80\xff\x01", 3)));
  // Every remainder length (0-3 trailing bytes) hashes differently.
  EXPECT_NE(Murmur2("abcd"), Murmur2("abcde"));
  EXPECT_NE(Murmur2("abcde"), Murmur2("abcdef"));
  EXPECT_NE(Murmur2("abcdef"), Murmur2("abcdefg"));
  for (int n = 1; n <= 64; ++n) {
    int32_t p = PartitionForKey("key", n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace keystone::kafka
