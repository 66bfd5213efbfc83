#include "base/thread_name.h"

#include <pthread.h>

namespace keystone {

namespace {
// TASK_COMM_LEN (16) with its terminating NUL.
constexpr size_t kMaxThreadName = 15;
}  // namespace

void SetThreadName(std::string_view name) {
  std::string cut(name.substr(0, kMaxThreadName));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

std::string ThreadName() {
  char name[kMaxThreadName + 1] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "";
  return name;
}

}  // namespace keystone
