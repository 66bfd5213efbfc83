#pragma once

// The libFuzzer entry point that every target in tests/fuzz defines. Built
// with KEYSTONE_FUZZ (clang), libFuzzer drives it; otherwise replay_main.cc
// runs it once per file of the committed corpus, as a regression test.
//
// A target returns 0 for every input it was given. It calls FuzzFail (which
// aborts, so that libFuzzer and the replay both report the input) when an
// input breaks one of the promises it checks beyond "does not crash".

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace keystone::fuzz {

// Prints `what` and `detail` to stderr and aborts.
[[noreturn]] void FuzzFail(std::string_view what, std::string_view detail);

}  // namespace keystone::fuzz
