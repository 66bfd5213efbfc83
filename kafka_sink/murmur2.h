#pragma once

// Kafka's murmur2 key hash and the partition a keyed message goes to, exactly
// as the Java client's default partitioner and librdkafka's `murmur2` /
// `murmur2_random` partitioners compute it:
//   partition = (murmur2(key) & 0x7fffffff) % partition_count
// Pure functions; thread-safe.

#include <cstdint>
#include <string_view>

namespace keystone::kafka {

// Kafka's murmur2 (seed 0x9747b28c) of `key`, as a signed 32-bit value like
// Java's Utils.murmur2 returns.
int32_t Murmur2(std::string_view key);

// The partition for `key` among `partition_count` (> 0) partitions.
int32_t PartitionForKey(std::string_view key, int32_t partition_count);

}  // namespace keystone::kafka
