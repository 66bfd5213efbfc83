#pragma once

// LmdbEnv: the one place that talks to liblmdb. Owns the environment and its
// named databases, turns LMDB return codes into Status values that name the
// operation and the path, and grows the map when it fills up. Private to
// lmdb_store/ (never included by a public header).
//
// Thread safety: all methods may be called from any thread. Transactions are
// bound to the thread that opened them (MDB_NOTLS lets one thread hold several
// read transactions). Growing the map requires that no transaction of this
// process is open; a gate (shared for transactions, exclusive for resizes)
// ensures it, so keep transactions short.

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace keystone::store {

struct LmdbOptions {
  std::string path;
  bool sync = true;
  uint64_t initial_map_size = 64ull << 20;
  uint64_t max_map_size = 1ull << 40;
  unsigned max_readers = 510;
};

class LmdbEnv {
 public:
  // Databases of the environment, opened once at start.
  enum Db { kMeta = 0, kCatalog, kTables, kItems, kStream, kPositions, kDbCount };

  static Result<std::unique_ptr<LmdbEnv>> Open(const LmdbOptions& options);
  ~LmdbEnv();

  MDB_env* env() const { return env_; }
  MDB_dbi dbi(Db db) const { return dbis_[db]; }
  const std::string& path() const { return options_.path; }

  // A transaction holding the gate; commit or abort, else aborted on scope exit.
  class Txn {
   public:
    Txn() = default;
    Txn(Txn&& other) noexcept;
    Txn& operator=(Txn&& other) noexcept;
    ~Txn();

    MDB_txn* get() const { return txn_; }
    // Commits a write transaction (synced as the environment says).
    Status Commit();
    void Abort();

    // Value at `key` in `db`, or NotFound. The view points into the map and is
    // valid until the transaction ends or (write txn) the next write.
    Result<std::string_view> Get(Db db, std::string_view key) const;
    Status Put(Db db, std::string_view key, std::string_view value);
    // NotFound when absent.
    Status Delete(Db db, std::string_view key);

   private:
    friend class LmdbEnv;
    Txn(LmdbEnv* env, MDB_txn* txn, std::shared_lock<std::shared_mutex> gate)
        : env_(env), txn_(txn), gate_(std::move(gate)) {}
    LmdbEnv* env_ = nullptr;
    MDB_txn* txn_ = nullptr;
    std::shared_lock<std::shared_mutex> gate_;
  };

  Result<Txn> BeginRead();
  Result<Txn> BeginWrite();

  // Doubles the map (by at most 1 GiB a step) up to the maximum.
  // kResourceExhausted when already at the maximum. REQUIRES: the caller holds
  // no transaction.
  Status Grow();

  uint64_t map_size();
  uint64_t used_bytes();

  // LMDB's `rc` as a Status naming `operation` and the environment path.
  // MDB_MAP_FULL becomes kResourceExhausted, MDB_NOTFOUND kNotFound, the rest
  // kIoError.
  Status Error(int rc, std::string_view operation) const;

 private:
  explicit LmdbEnv(LmdbOptions options) : options_(std::move(options)) {}
  Result<Txn> Begin(bool read_only);

  LmdbOptions options_;
  bool opened_ = false;  // mdb_env_open succeeded: there is a file to flush
  MDB_env* env_ = nullptr;
  MDB_dbi dbis_[kDbCount] = {};
  std::shared_mutex gate_;
};

// Big-endian fixed-width integers, so that LMDB's byte order is numeric order.
void AppendBigEndian32(uint32_t v, std::string* out);
void AppendBigEndian64(uint64_t v, std::string* out);
uint32_t ReadBigEndian32(std::string_view in);
uint64_t ReadBigEndian64(std::string_view in);

inline MDB_val ToVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

}  // namespace keystone::store
