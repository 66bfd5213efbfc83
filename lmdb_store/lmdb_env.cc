#include "lmdb_store/lmdb_env.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "base/log.h"

namespace keystone::store {
namespace {

constexpr const char* kDbNames[LmdbEnv::kDbCount] = {"meta",  "catalog", "tables",
                                                     "items", "stream",  "positions"};

}  // namespace

void AppendBigEndian32(uint32_t v, std::string* out) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out->append(b, 4);
}

void AppendBigEndian64(uint64_t v, std::string* out) {
  AppendBigEndian32(static_cast<uint32_t>(v >> 32), out);
  AppendBigEndian32(static_cast<uint32_t>(v), out);
}

uint32_t ReadBigEndian32(std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint64_t ReadBigEndian64(std::string_view in) {
  return (uint64_t{ReadBigEndian32(in)} << 32) | ReadBigEndian32(in.substr(4));
}

Status LmdbEnv::Error(int rc, std::string_view operation) const {
  std::string message = std::string(operation) + " in " + options_.path + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) return ResourceExhausted(std::move(message));
  if (rc == MDB_NOTFOUND) return NotFound(std::move(message));
  return IoError(std::move(message));
}

Result<std::unique_ptr<LmdbEnv>> LmdbEnv::Open(const LmdbOptions& options) {
  if (options.path.empty()) return InvalidArgument("store path is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) return IoError("creating " + options.path + ": " + ec.message());

  std::unique_ptr<LmdbEnv> env(new LmdbEnv(options));
  int rc = mdb_env_create(&env->env_);
  if (rc != 0) return env->Error(rc, "mdb_env_create");
  rc = mdb_env_set_maxdbs(env->env_, kDbCount);
  if (rc != 0) return env->Error(rc, "mdb_env_set_maxdbs");
  rc = mdb_env_set_maxreaders(env->env_, options.max_readers);
  if (rc != 0) return env->Error(rc, "mdb_env_set_maxreaders");
  rc = mdb_env_set_mapsize(env->env_, options.initial_map_size);
  if (rc != 0) return env->Error(rc, "mdb_env_set_mapsize");
  // MDB_NOTLS: read transactions are not tied to thread-local slots, so one
  // thread may hold several. MDB_NOSYNC leaves flushing to the OS ("nosync").
  unsigned flags = MDB_NOTLS | (options.sync ? 0 : MDB_NOSYNC);
  rc = mdb_env_open(env->env_, options.path.c_str(), flags, 0644);
  if (rc != 0) return env->Error(rc, "opening the LMDB environment");
  env->opened_ = true;

  // Another process may have grown the map already; adopt its size (passing 0
  // makes LMDB use the larger of ours and the file's).
  rc = mdb_env_set_mapsize(env->env_, 0);
  if (rc != 0) return env->Error(rc, "mdb_env_set_mapsize");

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env_, nullptr, 0, &txn);
  if (rc != 0) return env->Error(rc, "beginning the first transaction");
  for (int i = 0; i < kDbCount; ++i) {
    rc = mdb_dbi_open(txn, kDbNames[i], MDB_CREATE, &env->dbis_[i]);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return env->Error(rc, std::string("opening database ") + kDbNames[i]);
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return env->Error(rc, "committing the first transaction");
  return env;
}

LmdbEnv::~LmdbEnv() {
  if (env_ == nullptr) return;
  // With MDB_NOSYNC ("nosync") commits reach the disk when the OS writes them
  // back; a clean close flushes them, so that a clean shutdown never leaves
  // acknowledged writes only in the page cache. With syncing on it is a no-op.
  if (opened_ && !options_.sync) {
    int rc = mdb_env_sync(env_, 1);
    if (rc != 0) LogWarn("store", Error(rc, "flushing on close").ToString());
  }
  mdb_env_close(env_);
}

Result<LmdbEnv::Txn> LmdbEnv::Begin(bool read_only) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::shared_lock<std::shared_mutex> gate(gate_);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, read_only ? MDB_RDONLY : 0, &txn);
    if (rc == 0) return Txn(this, txn, std::move(gate));
    if (rc != MDB_MAP_RESIZED) {
      return Error(rc,
                   read_only ? "beginning a read transaction" : "beginning a write transaction");
    }
    // Another process grew the map: adopt the new size once no transaction of
    // ours is open, then try again.
    gate.unlock();
    std::unique_lock<std::shared_mutex> exclusive(gate_);
    rc = mdb_env_set_mapsize(env_, 0);
    if (rc != 0) return Error(rc, "adopting the map size grown by another process");
  }
  return IoError("beginning a transaction in " + options_.path +
                 ": the map kept being resized by another process");
}

Result<LmdbEnv::Txn> LmdbEnv::BeginRead() { return Begin(true); }
Result<LmdbEnv::Txn> LmdbEnv::BeginWrite() { return Begin(false); }

Status LmdbEnv::Grow() {
  std::unique_lock<std::shared_mutex> exclusive(gate_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  uint64_t current = info.me_mapsize;
  if (current >= options_.max_map_size) {
    return ResourceExhausted("the LMDB map in " + options_.path + " is full at its maximum of " +
                             std::to_string(options_.max_map_size) +
                             " bytes (raise max_map_size or delete data)");
  }
  uint64_t step = std::min<uint64_t>(current, 1ull << 30);
  uint64_t next = std::min<uint64_t>(current + step, options_.max_map_size);
  int rc = mdb_env_set_mapsize(env_, next);
  if (rc != 0) return Error(rc, "growing the map");
  LogInfo("store", "grew the LMDB map of " + options_.path + " from " + std::to_string(current) +
                       " to " + std::to_string(next) + " bytes");
  return Status::Ok();
}

uint64_t LmdbEnv::map_size() {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

uint64_t LmdbEnv::used_bytes() {
  MDB_envinfo info;
  MDB_stat stat;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  return (info.me_last_pgno + 1) * static_cast<uint64_t>(stat.ms_psize);
}

LmdbEnv::Txn::Txn(Txn&& other) noexcept
    : env_(other.env_), txn_(other.txn_), gate_(std::move(other.gate_)) {
  other.txn_ = nullptr;
}

LmdbEnv::Txn& LmdbEnv::Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Abort();
    env_ = other.env_;
    txn_ = other.txn_;
    gate_ = std::move(other.gate_);
    other.txn_ = nullptr;
  }
  return *this;
}

LmdbEnv::Txn::~Txn() { Abort(); }

void LmdbEnv::Txn::Abort() {
  if (txn_ != nullptr) {
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  if (gate_.owns_lock()) gate_.unlock();
}

Status LmdbEnv::Txn::Commit() {
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (gate_.owns_lock()) gate_.unlock();
  if (rc != 0) return env_->Error(rc, "committing a write transaction");
  return Status::Ok();
}

Result<std::string_view> LmdbEnv::Txn::Get(Db db, std::string_view key) const {
  MDB_val k = ToVal(key);
  MDB_val v;
  int rc = mdb_get(txn_, env_->dbi(db), &k, &v);
  if (rc != 0) return env_->Error(rc, std::string("reading from ") + kDbNames[db]);
  return FromVal(v);
}

Status LmdbEnv::Txn::Put(Db db, std::string_view key, std::string_view value) {
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  int rc = mdb_put(txn_, env_->dbi(db), &k, &v, 0);
  if (rc != 0) return env_->Error(rc, std::string("writing to ") + kDbNames[db]);
  return Status::Ok();
}

Status LmdbEnv::Txn::Delete(Db db, std::string_view key) {
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, env_->dbi(db), &k, nullptr);
  if (rc != 0) return env_->Error(rc, std::string("deleting from ") + kDbNames[db]);
  return Status::Ok();
}

}  // namespace keystone::store
