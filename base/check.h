#pragma once

// KS_CHECK: the one way a programming bug stops the process. Never use it for
// something the environment or a client can cause; return a Status instead.

#include <cstdio>
#include <cstdlib>

#define KS_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#define KS_CHECK_OK(expr)                                                                \
  do {                                                                                   \
    auto ks_check_status_ = (expr);                                                      \
    if (!ks_check_status_.ok()) {                                                        \
      std::fprintf(stderr, "%s:%d: check failed: %s is %s\n", __FILE__, __LINE__, #expr, \
                   ks_check_status_.ToString().c_str());                                 \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
