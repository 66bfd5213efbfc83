#include "daemon/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

namespace keystone::daemon {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Trims and collapses each run of whitespace to one space, as AWS
// canonicalises header values.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : Trim(value)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Percent-encodes every byte but the unreserved ones (and '/' when
// `keep_slash`), upper-case hex.
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; a '%' not followed by two hex digits stays as it is.
std::string UriDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// The path with "." and ".." segments resolved and empty segments dropped
// (a trailing slash kept), then percent-encoded; the raw path's own escapes
// are encoded again, as every service but S3 expects.
std::string CanonicalUri(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  std::string out = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += UriEncode(segments[i], /*keep_slash=*/false);
  }
  bool trailing = path.size() > 1 && path.back() == '/';
  if (trailing && !segments.empty()) out.push_back('/');
  return out;
}

// Parameters decoded and encoded again (so that any valid encoding of the
// same query signs alike), sorted by key, then value.
std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view key = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      params.emplace_back(UriEncode(UriDecode(key), false), UriEncode(UriDecode(value), false));
    }
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += key;
    out.push_back('=');
    out += value;
  }
  return out;
}

const std::string* FindHeader(const SigV4Request& request, std::string_view lower_name) {
  for (const auto& [name, value] : request.headers) {
    if (ToLower(name) == lower_name) return &value;
  }
  return nullptr;
}

std::string Scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string out;
  out.append(date).append("/").append(region).append("/").append(service).append("/aws4_request");
  return out;
}

bool IsDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr);
  return Hex(out, size);
}

std::string FormatAmzDate(int64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<int64_t> ParseAmzDate(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z' || !IsDigits(text.substr(0, 8)) ||
      !IsDigits(text.substr(9, 6))) {
    return InvalidArgument("X-Amz-Date must be in the form yyyyMMdd'T'HHmmss'Z', got '" +
                           std::string(text) + "'");
  }
  auto number = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  struct tm tm {};
  tm.tm_year = number(0, 4) - 1900;
  tm.tm_mon = number(4, 2) - 1;
  tm.tm_mday = number(6, 2);
  tm.tm_hour = number(9, 2);
  tm.tm_min = number(11, 2);
  tm.tm_sec = number(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return InvalidArgument("X-Amz-Date is not a valid time: '" + std::string(text) + "'");
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

Result<SigV4Authorization> ParseSigV4Authorization(std::string_view header) {
  header = Trim(header);
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm ||
      (header.size() > kAlgorithm.size() && header[kAlgorithm.size()] != ' ')) {
    return InvalidArgument("Authorization header must use the AWS4-HMAC-SHA256 algorithm");
  }
  std::map<std::string, std::string, std::less<>> parts;
  std::string_view rest = header.substr(kAlgorithm.size());
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("Authorization header parameter '" + std::string(part) +
                             "' is not of the form name=value");
    }
    parts[std::string(Trim(part.substr(0, eq)))] = std::string(Trim(part.substr(eq + 1)));
  }
  std::string missing;
  for (std::string_view name : {"Credential", "SignedHeaders", "Signature"}) {
    if (parts.find(name) == parts.end()) {
      missing += "Authorization header requires '" + std::string(name) + "' parameter. ";
    }
  }
  if (!missing.empty()) {
    missing.pop_back();
    return InvalidArgument(missing);
  }
  SigV4Authorization out;
  // Credential=<key>/<date>/<region>/<service>/aws4_request; the key id
  // itself holds no '/'.
  const std::string& credential = parts.find("Credential")->second;
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    size_t slash = credential.find('/', start);
    fields.push_back(credential.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (fields.size() != 5 || fields[0].empty() || fields[4] != "aws4_request" ||
      fields[1].size() != 8 || !IsDigits(fields[1]) || fields[2].empty() || fields[3].empty()) {
    return InvalidArgument(
        "Credential must have the form <key>/<yyyymmdd>/<region>/<service>/aws4_request, got '" +
        credential + "'");
  }
  out.access_key_id = fields[0];
  out.date = fields[1];
  out.region = fields[2];
  out.service = fields[3];
  const std::string& signed_headers = parts.find("SignedHeaders")->second;
  start = 0;
  for (;;) {
    size_t semi = signed_headers.find(';', start);
    std::string name = ToLower(signed_headers.substr(start, semi - start));
    if (name.empty()) return InvalidArgument("SignedHeaders has an empty header name");
    out.signed_headers.push_back(std::move(name));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  out.signature = ToLower(parts.find("Signature")->second);
  if (out.signature.size() != 64 ||
      !std::all_of(out.signature.begin(), out.signature.end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return InvalidArgument("Signature must be 64 hexadecimal digits");
  }
  return out;
}

std::string SigV4CanonicalRequest(const SigV4Request& request,
                                  const std::vector<std::string>& signed_headers) {
  std::string_view target = request.target;
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  // Values of each signed header, in arrival order, joined with ','.
  std::map<std::string, std::string> values;
  for (const std::string& name : signed_headers) values[name];
  for (const auto& [name, value] : request.headers) {
    auto it = values.find(ToLower(name));
    if (it == values.end()) continue;
    if (!it->second.empty()) it->second.push_back(',');
    it->second += CanonicalHeaderValue(value);
  }

  std::string out;
  out.reserve(256 + request.target.size());
  out.append(request.method).push_back('\n');
  out.append(CanonicalUri(path)).push_back('\n');
  out.append(CanonicalQuery(query)).push_back('\n');
  std::string names;
  for (const auto& [name, value] : values) {
    out.append(name).append(":").append(value).push_back('\n');
    if (!names.empty()) names.push_back(';');
    names += name;
  }
  out.push_back('\n');
  out.append(names).push_back('\n');
  out.append(Sha256Hex(request.body));
  return out;
}

std::string SigV4StringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date).append("\n").append(scope).append("\n");
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string SigV4Signature(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service, std::string_view string_to_sign) {
  std::string key = HmacSha256("AWS4" + std::string(secret), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  std::string mac = HmacSha256(key, string_to_sign);
  return Hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

void SigV4Sign(SigV4Request& request, const SigV4Credentials& credentials, std::string_view region,
               std::string_view service, int64_t now_ms) {
  std::string amz_date = FormatAmzDate(now_ms);
  std::erase_if(request.headers, [](const auto& h) {
    std::string name = ToLower(h.first);
    return name == "x-amz-date" || name == "authorization";
  });
  request.headers.emplace_back("X-Amz-Date", amz_date);
  std::vector<std::string> names;
  for (const auto& [name, value] : request.headers) names.push_back(ToLower(name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string date = amz_date.substr(0, 8);
  std::string scope = Scope(date, region, service);
  std::string sts = SigV4StringToSign(amz_date, scope, SigV4CanonicalRequest(request, names));
  std::string signed_headers;
  for (const std::string& name : names) {
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }
  request.headers.emplace_back(
      "Authorization",
      std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope +
          ", SignedHeaders=" + signed_headers + ", Signature=" +
          SigV4Signature(credentials.secret_access_key, date, region, service, sts));
}

std::string_view SigV4Result::ErrorType() const {
  switch (error) {
    case SigV4Error::kNone:
      return "";
    case SigV4Error::kMissingToken:
      return "com.amazon.coral.service#MissingAuthenticationTokenException";
    case SigV4Error::kIncompleteSignature:
      return "com.amazon.coral.service#IncompleteSignatureException";
    case SigV4Error::kUnrecognizedClient:
      return "com.amazon.coral.service#UnrecognizedClientException";
    case SigV4Error::kInvalidSignature:
      return "com.amazon.coral.service#InvalidSignatureException";
  }
  return "";
}

SigV4Verifier::SigV4Verifier(SigV4VerifierOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : SystemClock::Default()) {}

SigV4Result SigV4Verifier::Verify(const SigV4Request& request) const {
  if (options_.keys.empty()) return {};
  const std::string* header = FindHeader(request, "authorization");
  if (header == nullptr) {
    return {SigV4Error::kMissingToken, "Request is missing Authentication Token"};
  }
  Result<SigV4Authorization> parsed = ParseSigV4Authorization(*header);
  if (!parsed.ok()) return {SigV4Error::kIncompleteSignature, parsed.status().message()};
  const SigV4Authorization& auth = *parsed;

  const SigV4Credentials* key = nullptr;
  for (const SigV4Credentials& k : options_.keys) {
    if (k.access_key_id == auth.access_key_id) key = &k;
  }
  if (key == nullptr) {
    return {SigV4Error::kUnrecognizedClient,
            "The security token included in the request is invalid."};
  }
  if (std::find(auth.signed_headers.begin(), auth.signed_headers.end(), "host") ==
      auth.signed_headers.end()) {
    return {SigV4Error::kIncompleteSignature,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."};
  }
  if (auth.region != options_.region) {
    return {SigV4Error::kInvalidSignature, "Credential should be scoped to a valid region, not '" +
                                               auth.region + "'. Expected '" + options_.region +
                                               "'."};
  }
  if (auth.service != options_.service) {
    return {SigV4Error::kInvalidSignature,
            "Credential should be scoped to correct service: '" + options_.service + "'."};
  }
  const std::string* amz_date = FindHeader(request, "x-amz-date");
  if (amz_date == nullptr) {
    return {SigV4Error::kIncompleteSignature,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."};
  }
  std::string date_text(Trim(*amz_date));
  Result<int64_t> signed_at = ParseAmzDate(date_text);
  if (!signed_at.ok()) return {SigV4Error::kIncompleteSignature, signed_at.status().message()};
  if (date_text.substr(0, 8) != auth.date) {
    return {SigV4Error::kInvalidSignature,
            "Date in Credential scope does not match YYYYMMDD from "
            "ISO-8601 version of date from HTTP: '" +
                auth.date + "' != '" + date_text.substr(0, 8) + "', from '" + date_text + "'."};
  }
  int64_t now = clock_->NowMs();
  int64_t skew_minutes = options_.max_clock_skew_ms / 60000;
  if (*signed_at < now - options_.max_clock_skew_ms) {
    return {SigV4Error::kInvalidSignature,
            "Signature expired: " + date_text + " is now earlier than " +
                FormatAmzDate(now - options_.max_clock_skew_ms) + " (" + FormatAmzDate(now) +
                " - " + std::to_string(skew_minutes) + " min.)"};
  }
  if (*signed_at > now + options_.max_clock_skew_ms) {
    return {SigV4Error::kInvalidSignature,
            "Signature not yet current: " + date_text + " is still later than " +
                FormatAmzDate(now + options_.max_clock_skew_ms) + " (" + FormatAmzDate(now) +
                " + " + std::to_string(skew_minutes) + " min.)"};
  }
  std::vector<std::string> names = auth.signed_headers;
  std::sort(names.begin(), names.end());
  std::string sts = SigV4StringToSign(date_text, Scope(auth.date, auth.region, auth.service),
                                      SigV4CanonicalRequest(request, names));
  std::string expected =
      SigV4Signature(key->secret_access_key, auth.date, auth.region, auth.service, sts);
  if (expected.size() != auth.signature.size() ||
      CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) != 0) {
    return {SigV4Error::kInvalidSignature,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details."};
  }
  return {};
}

}  // namespace keystone::daemon
