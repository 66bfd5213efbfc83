#pragma once

// Names threads so that `top -H`, `ps -L`, gdb and perf tell them apart
// (librdkafka names its own: rdk:main, rdk:broker1, ...).

#include <string>
#include <string_view>

namespace keystone {

// Names the calling thread `name`, cut to the 15 bytes Linux keeps.
// Best effort: a failure is ignored.
void SetThreadName(std::string_view name);

// The calling thread's name ("" if it cannot be read).
std::string ThreadName();

}  // namespace keystone
