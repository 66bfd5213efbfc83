// Built into every program of a ThreadSanitizer build (KEYSTONE_TSAN) only.
//
// Debian's librdkafka uses C11 threads: thrd_create, mtx_lock, cnd_wait and
// the rest. glibc implements those on its internal pthread functions, not
// through the pthread entry points that GCC 12's TSan intercepts, so TSan
// saw neither librdkafka's threads (they crashed at their first allocation)
// nor its locks (every hand-over between its threads was reported as a
// race). These definitions take the place of glibc's for the whole process
// (a program's own symbols come first in the dynamic linker's lookup, for
// versioned references too) and call the intercepted pthread functions.
// glibc's C11 types are its pthread types under other names (same size and
// layout; thrd_t is pthread_t), which is what its own implementation relies
// on too. thrd_current, thrd_detach and tss_* carry no synchronisation and
// need no stand-in.

#include <pthread.h>
#include <threads.h>
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <new>

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));

namespace {

struct Start {
  thrd_start_t function;
  void* argument;
};

void* RunC11Thread(void* start) {
  Start s = *static_cast<Start*>(start);
  delete static_cast<Start*>(start);
  // glibc's thrd_join takes the int result back from the pointer this way.
  return reinterpret_cast<void*>(static_cast<intptr_t>(s.function(s.argument)));
}

int ToC11(int pthread_error) {
  switch (pthread_error) {
    case 0:
      return thrd_success;
    case ENOMEM:
    case EAGAIN:
      return thrd_nomem;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    default:
      return thrd_error;
  }
}

pthread_mutex_t* P(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* P(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t function, void* argument) {
  auto* start = new (std::nothrow) Start{function, argument};
  if (start == nullptr) return thrd_nomem;
  int error = pthread_create(thread, nullptr, RunC11Thread, start);
  if (error != 0) delete start;
  return ToC11(error);
}

int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  int error = pthread_join(thread, &value);
  if (error == 0 && result != nullptr) {
    *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  }
  return ToC11(error);
}

int mtx_init(mtx_t* mutex, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int error = pthread_mutex_init(P(mutex), &attr);
  pthread_mutexattr_destroy(&attr);
  return ToC11(error);
}

void mtx_destroy(mtx_t* mutex) { pthread_mutex_destroy(P(mutex)); }
int mtx_lock(mtx_t* mutex) { return ToC11(pthread_mutex_lock(P(mutex))); }
int mtx_trylock(mtx_t* mutex) { return ToC11(pthread_mutex_trylock(P(mutex))); }
int mtx_timedlock(mtx_t* mutex, const struct timespec* until) {
  return ToC11(pthread_mutex_timedlock(P(mutex), until));
}
int mtx_unlock(mtx_t* mutex) { return ToC11(pthread_mutex_unlock(P(mutex))); }

int cnd_init(cnd_t* cond) { return ToC11(pthread_cond_init(P(cond), nullptr)); }
void cnd_destroy(cnd_t* cond) { pthread_cond_destroy(P(cond)); }
int cnd_signal(cnd_t* cond) { return ToC11(pthread_cond_signal(P(cond))); }
int cnd_broadcast(cnd_t* cond) { return ToC11(pthread_cond_broadcast(P(cond))); }
int cnd_wait(cnd_t* cond, mtx_t* mutex) { return ToC11(pthread_cond_wait(P(cond), P(mutex))); }
int cnd_timedwait(cnd_t* cond, mtx_t* mutex, const struct timespec* until) {
  return ToC11(pthread_cond_timedwait(P(cond), P(mutex), until));
}

void call_once(once_flag* flag, void (*function)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), function);
}

}  // extern "C"
