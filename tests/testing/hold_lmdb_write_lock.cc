// Test tool: holds the LMDB write lock of an environment, as another process
// using the store library would while it runs a long write transaction.
//
//   hold_lmdb_write_lock DIR
//
// Opens the environment in DIR, begins a write transaction, prints "held" on
// stdout, and keeps it until SIGTERM or SIGINT; then aborts it (nothing is
// written) and exits 0. Every other writer of DIR waits meanwhile.

#include <lmdb.h>
#include <signal.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  // Blocked before the lock is taken, so that the signal is only ever
  // received by sigwait below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_maxdbs(env, 16);
  // MDB_NOTLS as keystoned opens it; the map size is adopted from the file.
  if (rc == 0) rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0644);
  MDB_txn* txn = nullptr;
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) {
    std::fprintf(stderr, "hold_lmdb_write_lock: %s: %s\n", argv[1], mdb_strerror(rc));
    return 1;
  }
  std::printf("held\n");
  std::fflush(stdout);
  int signo = 0;
  sigwait(&stop, &signo);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  std::printf("released\n");
  return 0;
}
