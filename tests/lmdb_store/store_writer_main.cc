// A writer process for the crash and two-process tests: opens the store at
// argv[1], writes items "<prefix>-<i>" for i in [start, start+count) to table
// "users" (created if missing), and after each acknowledged write prints
// "<i> <sequence>" on stdout, flushed, so the parent knows exactly what was
// acknowledged before it killed us.
//
// Usage: store_writer PATH PREFIX START COUNT SYNC(0|1)
//        store_writer PATH recreate
//
// The second form deletes table "users" and creates it again keyed by a
// number "id", with one item {id: 7}, then prints "recreated": another
// process changing the catalog under a reader's feet.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "lmdb_store/item_store.h"

using namespace keystone::store;

namespace {

int RecreateUsers(const char* path) {
  StoreOptions options;
  options.path = path;
  auto store = ItemStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto deleted = (*store)->DeleteTable("users");
  if (!deleted.ok()) {
    std::fprintf(stderr, "delete: %s\n", deleted.status().ToString().c_str());
    return 1;
  }
  TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"id", keystone::store::AttributeType::kN};
  keystone::Status created = (*store)->CreateTable(schema);
  if (!created.ok()) {
    std::fprintf(stderr, "create: %s\n", created.ToString().c_str());
    return 1;
  }
  auto put = (*store)->Put("users", ItemBuilder().N("id", 7).S("by", "recreate").Build());
  if (!put.ok()) {
    std::fprintf(stderr, "put: %s\n", put.status().ToString().c_str());
    return 1;
  }
  std::printf("recreated\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[2]) == "recreate") return RecreateUsers(argv[1]);
  if (argc != 6) {
    std::fprintf(stderr, "usage: store_writer PATH PREFIX START COUNT SYNC\n");
    return 2;
  }
  StoreOptions options;
  options.path = argv[1];
  options.sync = std::string(argv[5]) == "1";
  options.initial_map_size = 1 << 20;  // grow often: map growth under crashes too
  std::string prefix = argv[2];
  long start = std::atol(argv[3]);
  long count = std::atol(argv[4]);
  auto store = ItemStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"pk", keystone::store::AttributeType::kS};
  schema.stream.buffer_size = 10'000'000;
  keystone::Status created = (*store)->CreateTable(schema);
  if (!created.ok() && created.code() != keystone::StatusCode::kAlreadyExists) {
    std::fprintf(stderr, "create: %s\n", created.ToString().c_str());
    return 1;
  }
  std::string padding(200, 'p');
  for (long i = start; i < start + count; ++i) {
    auto r = (*store)->Put("users", ItemBuilder()
                                        .S("pk", prefix + "-" + std::to_string(i))
                                        .N("i", i)
                                        .S("pad", padding)
                                        .Build());
    if (!r.ok()) {
      std::fprintf(stderr, "put %ld: %s\n", i, r.status().ToString().c_str());
      return 1;
    }
    std::printf("%ld %llu\n", i, static_cast<unsigned long long>(r->sequence));
    std::fflush(stdout);
  }
  return 0;
}
