// Fuzz target: AWS Signature V4 verification (daemon/sigv4.h), which every
// request meets before anything else when auth is configured.
//
// Input: a request as lines: the method, the target ("/path?query"), then
// "name: value" header lines up to an empty line, then the body. The verifier
// knows one key (AKIDFUZZ) and a fixed clock.
//
// Promises checked beyond not crashing: the request as given verifies or
// fails with one of the four errors and a message; the same request signed
// by SigV4Sign with the configured key verifies, as long as it is one an
// HTTP/1.1 server could receive (a target starting with '/', a Host header,
// header names that are HTTP tokens, values without control characters);
// signed with another
// secret, it fails as kInvalidSignature.

#include <strings.h>

#include <string>
#include <string_view>

#include "base/clock.h"
#include "daemon/sigv4.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using keystone::daemon::SigV4Credentials;
using keystone::daemon::SigV4Error;
using keystone::daemon::SigV4Request;
using keystone::daemon::SigV4Verifier;
using keystone::fuzz::FuzzFail;

constexpr int64_t kNowMs = 1'700'000'000'000;

bool IsToken(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool IsFieldValue(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Splits off the text up to the next '\n' (all of it when there is none).
std::string_view NextLine(std::string_view& rest) {
  size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

std::string Describe(const SigV4Request& request) {
  std::string out = request.method + " " + request.target + "\n";
  for (const auto& [name, value] : request.headers) out += name + ": " + value + "\n";
  return out + "\n" + request.body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SigV4Credentials kKey{"AKIDFUZZ", "fuzz-secret"};
  static keystone::FakeClock clock(kNowMs);
  static const SigV4Verifier verifier([] {
    keystone::daemon::SigV4VerifierOptions options;
    options.keys = {kKey};
    options.clock = &clock;
    return options;
  }());

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  SigV4Request request;
  request.method = std::string(NextLine(rest));
  request.target = std::string(NextLine(rest));
  bool well_formed = !request.target.empty() && request.target[0] == '/' &&
                     IsToken(request.method) && IsFieldValue(request.target);
  bool has_host = false;
  while (!rest.empty()) {
    std::string_view line = NextLine(rest);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    well_formed = well_formed && IsToken(name) && IsFieldValue(value);
    has_host = has_host || (name.size() == 4 && strncasecmp(name.data(), "host", 4) == 0);
    request.headers.emplace_back(std::string(name), std::string(value));
  }
  request.body = std::string(rest);

  auto as_given = verifier.Verify(request);
  if (!as_given.ok() && as_given.message.empty()) {
    FuzzFail("a failed verification without a message", Describe(request));
  }
  // HTTP/1.1 requires Host, and the verifier requires it signed (as AWS does).
  if (!well_formed || !has_host) return 0;

  SigV4Request signed_request = request;
  keystone::daemon::SigV4Sign(signed_request, kKey, "us-east-1", "dynamodb", kNowMs);
  auto verified = verifier.Verify(signed_request);
  if (!verified.ok()) {
    FuzzFail("a correctly signed request failed: " + verified.message, Describe(signed_request));
  }
  SigV4Request forged = request;
  keystone::daemon::SigV4Sign(forged, {kKey.access_key_id, "another-secret"}, "us-east-1",
                              "dynamodb", kNowMs);
  auto rejected = verifier.Verify(forged);
  if (rejected.error != SigV4Error::kInvalidSignature) {
    FuzzFail(
        "a request signed with the wrong secret was not an invalid signature: " + rejected.message,
        Describe(forged));
  }
  return 0;
}
