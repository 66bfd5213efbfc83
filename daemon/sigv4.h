#pragma once

// AWS Signature Version 4 for the HTTP API: verifying the signatures that the
// SDKs and the aws CLI put in the Authorization header, and signing requests
// (for the keystone CLI and tests).
//
// The steps are AWS's: a canonical request (method, normalised and encoded
// path, sorted query, the signed headers lower-cased and trimmed, the SHA-256
// of the body), a string to sign naming the time and the credential scope
// (date/region/service/aws4_request), and an HMAC-SHA256 chain from the
// secret key over date, region, service and "aws4_request". Path
// normalisation and double encoding follow the rules for every service but
// S3. Presigned URLs (signature in the query string) are not supported.
//
// Thread safety: the free functions share no state; a SigV4Verifier is
// immutable after construction and may be used from any number of threads.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace keystone::daemon {

// What signing and verification read from an HTTP request.
struct SigV4Request {
  std::string method;
  // The request target as sent on the wire: path, then '?' and the query if
  // any, still percent-encoded ("/", "/a%20b?x=1").
  std::string target;
  // Header names and values in arrival order; names in any case. Repeated
  // names are allowed (their values are joined with ',').
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The parts of "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/
// aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>".
struct SigV4Authorization {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lower case, as listed
  std::string signature;                    // lower-case hex
};

// Parses an Authorization header value. kInvalidArgument naming what is
// missing or malformed (DynamoDB's IncompleteSignatureException).
Result<SigV4Authorization> ParseSigV4Authorization(std::string_view header);

// The canonical request for `request` over `signed_headers` (lower case,
// sorted). A signed header that the request lacks contributes an empty value.
std::string SigV4CanonicalRequest(const SigV4Request& request,
                                  const std::vector<std::string>& signed_headers);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>".
std::string SigV4StringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request);

// Hex HMAC-SHA256 signature of `string_to_sign` with the key derived from
// `secret` for date (yyyymmdd), region and service.
std::string SigV4Signature(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service, std::string_view string_to_sign);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// "yyyymmddThhmmssZ" for `unix_ms` (UTC).
std::string FormatAmzDate(int64_t unix_ms);
// Inverse of FormatAmzDate (milliseconds since the epoch), or
// kInvalidArgument.
Result<int64_t> ParseAmzDate(std::string_view text);

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Signs `request` in place as the SDKs do: replaces X-Amz-Date (from
// `now_ms`) and Authorization, signing every header present (the caller adds
// Host and any others first), for `region` and `service`.
void SigV4Sign(SigV4Request& request, const SigV4Credentials& credentials, std::string_view region,
               std::string_view service, int64_t now_ms);

enum class SigV4Error {
  kNone = 0,
  // No Authorization header (MissingAuthenticationTokenException).
  kMissingToken,
  // The header or X-Amz-Date is malformed (IncompleteSignatureException).
  kIncompleteSignature,
  // The access key id is not configured (UnrecognizedClientException).
  kUnrecognizedClient,
  // Wrong signature, wrong scope, or the time is outside the allowed skew
  // (InvalidSignatureException).
  kInvalidSignature,
};

// The outcome of a verification: kNone, or the error with DynamoDB's message.
struct SigV4Result {
  SigV4Error error = SigV4Error::kNone;
  std::string message;
  bool ok() const { return error == SigV4Error::kNone; }
  // "com.amazon.coral.service#InvalidSignatureException" etc.; empty when ok.
  std::string_view ErrorType() const;
};

struct SigV4VerifierOptions {
  // Accepted keys. Empty: every request is accepted, signed or not.
  std::vector<SigV4Credentials> keys;
  // The region requests must be signed for.
  std::string region = "us-east-1";
  // The signing name requests must use (DynamoDB Streams signs as
  // "dynamodb" too).
  std::string service = "dynamodb";
  // How far X-Amz-Date may be from now, either way (AWS allows 15 minutes).
  int64_t max_clock_skew_ms = 15 * 60 * 1000;
  // Not owned; nullptr: the system clock.
  Clock* clock = nullptr;
};

class SigV4Verifier {
 public:
  explicit SigV4Verifier(SigV4VerifierOptions options);

  // Whether any key is configured (otherwise Verify accepts everything).
  bool enabled() const { return !options_.keys.empty(); }

  // Verifies `request`'s Authorization header against the configured keys.
  SigV4Result Verify(const SigV4Request& request) const;

 private:
  SigV4VerifierOptions options_;
  Clock* clock_;
};

}  // namespace keystone::daemon
