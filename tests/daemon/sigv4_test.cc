// SigV4 against AWS's published Signature Version 4 test suite
// (aws-sig-v4-test-suite: credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z,
// us-east-1, service "service"), against a request signed by botocore, and
// the verifier's error paths.

#include "daemon/sigv4.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/clock.h"

namespace keystone::daemon {
namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kAmzDate[] = "20150830T123600Z";
constexpr int64_t kSuiteTimeMs = 1440938160000;  // 2015-08-30T12:36:00Z
constexpr char kScope[] = "20150830/us-east-1/service/aws4_request";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kToken[] =
    "AQoDYXdzEPT//////////"
    "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx"
    "7mSEI/qkPpKPi/"
    "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8T"
    "x6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
    "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKT"
    "r4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

struct Vector {
  const char* name;
  const char* method;
  const char* target;
  std::vector<std::pair<std::string, std::string>> headers;  // X-Amz-Date added
  const char* body;
  const char* signed_headers;
  // The fourth line of the .sts file: hex SHA-256 of the canonical request.
  const char* creq_hash;
  const char* signature;
  // The .creq file, where the test checks it verbatim (nullptr: only its hash).
  const char* creq;
};

const std::vector<Vector>& Suite() {
  static const auto* suite = new std::vector<Vector>{
      {"get-vanilla",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/?Param2=value2&Param1=value1",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
       "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"get-vanilla-query-order-key",
       "GET",
       "/?Param1=value2&Param1=Value1",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
       "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
       nullptr},
      {"get-vanilla-query-order-value",
       "GET",
       "/?Param1=value2&Param1=value1",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
       nullptr},
      {"get-vanilla-query-unreserved",
       "GET",
       "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
       "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
       nullptr},
      {"get-vanilla-utf8-query",
       "GET",
       "/?\xe1\x88\xb4=bar",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
       "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"get-header-key-duplicate",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", "value2"},
        {"My-Header1", "value2"},
        {"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"get-header-value-order",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       "",
       "host;my-header1;x-amz-date",
       "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
       nullptr},
      {"get-header-value-trim",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", " value1"},
        {"My-Header2", " \"a   b   c\""}},
       "",
       "host;my-header1;my-header2;x-amz-date",
       "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"get-unreserved",
       "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
       nullptr},
      {"get-relative-relative",
       "GET",
       "/example1/example2/../..",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
       nullptr},
      {"get-slash",
       "GET",
       "//",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
       nullptr},
      {"get-slash-pointless-dot",
       "GET",
       "/./example",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
       "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
       nullptr},
      {"get-slashes",
       "GET",
       "//example//",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
       "GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"get-space",
       "GET",
       "/example space/",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
       "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"post-vanilla",
       "POST",
       "/",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
       nullptr},
      {"post-vanilla-query",
       "POST",
       "/?Param1=value1",
       {{"Host", "example.amazonaws.com"}},
       "",
       "host;x-amz-date",
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
       nullptr},
      {"post-header-key-sort",
       "POST",
       "/",
       {{"Host", "example.amazonaws.com"}, {"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
       nullptr},
      {"post-header-value-case",
       "POST",
       "/",
       {{"Host", "example.amazonaws.com"}, {"My-Header1", "VALUE1"}},
       "",
       "host;my-header1;x-amz-date",
       "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
       nullptr},
      {"post-sts-header-before",
       "POST",
       "/",
       {{"Host", "example.amazonaws.com"}, {"X-Amz-Security-Token", kToken}},
       "",
       "host;x-amz-date;x-amz-security-token",
       "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
       nullptr},
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       {{"Content-Type", "application/x-www-form-urlencoded"}, {"Host", "example.amazonaws.com"}},
       "Param1=value1",
       "content-type;host;x-amz-date",
       "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
       nullptr},
  };
  return *suite;
}

SigV4Request RequestOf(const Vector& v) {
  SigV4Request r;
  r.method = v.method;
  r.target = v.target;
  r.headers = v.headers;
  r.headers.emplace_back("X-Amz-Date", kAmzDate);
  r.body = v.body;
  return r;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

std::string AuthorizationOf(const Vector& v, const std::string& signature) {
  return std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") + kScope +
         ", SignedHeaders=" + v.signed_headers + ", Signature=" + signature;
}

SigV4VerifierOptions SuiteVerifierOptions(Clock* clock) {
  SigV4VerifierOptions o;
  o.keys = {{"AKIDEXAMPLE", kSecret}};
  o.region = "us-east-1";
  o.service = "service";
  o.clock = clock;
  return o;
}

TEST(SigV4Test, EmptyBodyHash) { EXPECT_EQ(kEmptyHash, Sha256Hex("")); }

TEST(SigV4Test, AmzDateRoundTrip) {
  EXPECT_EQ(kAmzDate, FormatAmzDate(kSuiteTimeMs));
  auto parsed = ParseAmzDate(kAmzDate);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(kSuiteTimeMs, *parsed);
  for (const char* bad : {"", "20150830", "20150830T123600", "2015083OT123600Z", "20151330T123600Z",
                          "20150830X123600Z"}) {
    EXPECT_FALSE(ParseAmzDate(bad).ok()) << bad;
  }
}

TEST(SigV4Test, PublishedSuiteCanonicalRequestsAndSignatures) {
  for (const Vector& v : Suite()) {
    SCOPED_TRACE(v.name);
    SigV4Request r = RequestOf(v);
    std::string creq = SigV4CanonicalRequest(r, Split(v.signed_headers, ';'));
    if (v.creq != nullptr) {
      EXPECT_EQ(v.creq, creq);
    }
    EXPECT_EQ(v.creq_hash, Sha256Hex(creq));
    std::string sts = SigV4StringToSign(kAmzDate, kScope, creq);
    EXPECT_EQ(std::string("AWS4-HMAC-SHA256\n") + kAmzDate + "\n" + kScope + "\n" + v.creq_hash,
              sts);
    EXPECT_EQ(v.signature, SigV4Signature(kSecret, "20150830", "us-east-1", "service", sts));
  }
}

TEST(SigV4Test, VerifierAcceptsEverySuiteRequest) {
  FakeClock clock(kSuiteTimeMs + 60'000);
  SigV4Verifier verifier(SuiteVerifierOptions(&clock));
  for (const Vector& v : Suite()) {
    SCOPED_TRACE(v.name);
    SigV4Request r = RequestOf(v);
    r.headers.emplace_back("Authorization", AuthorizationOf(v, v.signature));
    SigV4Result result = verifier.Verify(r);
    EXPECT_TRUE(result.ok()) << result.message;
  }
}

TEST(SigV4Test, SignReproducesSuiteSignature) {
  // Signing every header present reproduces get-header-key-duplicate, whose
  // signed headers are all of its headers.
  const Vector& v = Suite()[6];
  ASSERT_STREQ("get-header-key-duplicate", v.name);
  SigV4Request r;
  r.method = v.method;
  r.target = v.target;
  r.headers = v.headers;
  SigV4Sign(r, {"AKIDEXAMPLE", kSecret}, "us-east-1", "service", kSuiteTimeMs);
  EXPECT_EQ(AuthorizationOf(v, v.signature), r.headers.back().second);
  EXPECT_EQ("Authorization", r.headers.back().first);
}

// Signed by botocore 1.29 (SigV4Auth, 'dynamodb', 'us-east-1') for a PutItem
// to http://127.0.0.1:8000/ at 2024-01-02T03:04:05Z, with access key
// AKIDKEYSTONE and secret "keystone-secret".
SigV4Request BotocorePutItem() {
  SigV4Request r;
  r.method = "POST";
  r.target = "/";
  r.body = R"({"TableName": "users", "Item": {"pk": {"S": "a"}, "sk": {"S": "b"}}})";
  r.headers = {
      {"Host", "127.0.0.1:8000"},
      {"Accept-Encoding", "identity"},
      {"X-Amz-Target", "DynamoDB_20120810.PutItem"},
      {"Content-Type", "application/x-amz-json-1.0"},
      {"User-Agent", "Boto3/1.26.27 Python/3.11.2"},
      {"X-Amz-Date", "20240102T030405Z"},
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIDKEYSTONE/20240102/us-east-1/dynamodb/aws4_request, "
       "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
       "Signature=4e5600319cbfbfdfcc4c21571ed2f33ca2e1ebacd689cf3e3564576358e954c1"},
      {"Content-Length", "68"},
  };
  return r;
}

constexpr int64_t kBotocoreTimeMs = 1704164645000;  // 2024-01-02T03:04:05Z

SigV4Verifier DynamoVerifier(Clock* clock, std::string secret = "keystone-secret") {
  SigV4VerifierOptions o;
  o.keys = {{"OTHERKEY", "x"}, {"AKIDKEYSTONE", std::move(secret)}};
  o.clock = clock;
  return SigV4Verifier(o);
}

TEST(SigV4Test, AcceptsWhatBotocoreSends) {
  FakeClock clock(kBotocoreTimeMs + 5'000);
  SigV4Result result = DynamoVerifier(&clock).Verify(BotocorePutItem());
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST(SigV4Test, RejectsWrongSecretTamperingAndUnknownKeys) {
  FakeClock clock(kBotocoreTimeMs);
  SigV4Result wrong_secret = DynamoVerifier(&clock, "other-secret").Verify(BotocorePutItem());
  EXPECT_EQ(SigV4Error::kInvalidSignature, wrong_secret.error);
  EXPECT_EQ("com.amazon.coral.service#InvalidSignatureException", wrong_secret.ErrorType());
  EXPECT_NE(std::string::npos, wrong_secret.message.find("does not match"));

  SigV4Request body = BotocorePutItem();
  body.body[20] = 'x';
  EXPECT_EQ(SigV4Error::kInvalidSignature, DynamoVerifier(&clock).Verify(body).error);

  SigV4Request header = BotocorePutItem();
  header.headers[2].second = "DynamoDB_20120810.DeleteItem";
  EXPECT_EQ(SigV4Error::kInvalidSignature, DynamoVerifier(&clock).Verify(header).error);

  // An unsigned header may change.
  SigV4Request unsigned_header = BotocorePutItem();
  unsigned_header.headers[4].second = "curl/8";
  EXPECT_TRUE(DynamoVerifier(&clock).Verify(unsigned_header).ok());

  SigV4VerifierOptions other;
  other.keys = {{"SOMEONEELSE", "keystone-secret"}};
  other.clock = &clock;
  SigV4Result unknown = SigV4Verifier(other).Verify(BotocorePutItem());
  EXPECT_EQ(SigV4Error::kUnrecognizedClient, unknown.error);
  EXPECT_EQ("The security token included in the request is invalid.", unknown.message);
  EXPECT_EQ("com.amazon.coral.service#UnrecognizedClientException", unknown.ErrorType());
}

TEST(SigV4Test, ClockSkewIsBounded) {
  FakeClock early(kBotocoreTimeMs - 16 * 60'000);
  SigV4Result future = DynamoVerifier(&early).Verify(BotocorePutItem());
  EXPECT_EQ(SigV4Error::kInvalidSignature, future.error);
  EXPECT_NE(std::string::npos, future.message.find("Signature not yet current")) << future.message;

  FakeClock late(kBotocoreTimeMs + 16 * 60'000);
  SigV4Result expired = DynamoVerifier(&late).Verify(BotocorePutItem());
  EXPECT_EQ(SigV4Error::kInvalidSignature, expired.error);
  EXPECT_NE(std::string::npos, expired.message.find("Signature expired: 20240102T030405Z"))
      << expired.message;

  FakeClock edge(kBotocoreTimeMs + 14 * 60'000);
  EXPECT_TRUE(DynamoVerifier(&edge).Verify(BotocorePutItem()).ok());
}

TEST(SigV4Test, ScopeMustMatchRegionServiceAndDate) {
  FakeClock clock(kBotocoreTimeMs);
  SigV4VerifierOptions eu;
  eu.keys = {{"AKIDKEYSTONE", "keystone-secret"}};
  eu.region = "eu-west-1";
  eu.clock = &clock;
  SigV4Result region = SigV4Verifier(eu).Verify(BotocorePutItem());
  EXPECT_EQ(SigV4Error::kInvalidSignature, region.error);
  EXPECT_NE(std::string::npos, region.message.find("region")) << region.message;

  SigV4VerifierOptions s3 = eu;
  s3.region = "us-east-1";
  s3.service = "s3";
  EXPECT_EQ(SigV4Error::kInvalidSignature, SigV4Verifier(s3).Verify(BotocorePutItem()).error);

  SigV4Request date = BotocorePutItem();
  date.headers[5].second = "20240103T030405Z";
  FakeClock next_day(kBotocoreTimeMs + 86'400'000);
  SigV4Result mismatch = DynamoVerifier(&next_day).Verify(date);
  EXPECT_EQ(SigV4Error::kInvalidSignature, mismatch.error);
  EXPECT_NE(std::string::npos, mismatch.message.find("Date in Credential scope"))
      << mismatch.message;
}

TEST(SigV4Test, MissingAndMalformedAuthorization) {
  FakeClock clock(kBotocoreTimeMs);
  SigV4Verifier verifier = DynamoVerifier(&clock);
  SigV4Request none = BotocorePutItem();
  none.headers.erase(none.headers.begin() + 6);
  SigV4Result missing = verifier.Verify(none);
  EXPECT_EQ(SigV4Error::kMissingToken, missing.error);
  EXPECT_EQ("com.amazon.coral.service#MissingAuthenticationTokenException", missing.ErrorType());

  for (const char* bad : {
           "Basic dXNlcjpwYXNz",
           "AWS4-HMAC-SHA256",
           "AWS4-HMAC-SHA256 Credential=AKIDKEYSTONE/20240102/us-east-1/dynamodb/aws4_request",
           "AWS4-HMAC-SHA256 Credential=AKIDKEYSTONE/20240102/us-east-1/aws4_request, "
           "SignedHeaders=host, "
           "Signature=4e5600319cbfbfdfcc4c21571ed2f33ca2e1ebacd689cf3e3564576358e954c1",
           "AWS4-HMAC-SHA256 Credential=AKIDKEYSTONE/20240102/us-east-1/dynamodb/aws4_request, "
           "SignedHeaders=host, Signature=xyz",
           "AWS4-HMAC-SHA256 Credential=AKIDKEYSTONE/20240102/us-east-1/dynamodb/aws4_request, "
           "SignedHeaders=content-type;x-amz-date, "
           "Signature=4e5600319cbfbfdfcc4c21571ed2f33ca2e1ebacd689cf3e3564576358e954c1",
       }) {
    SCOPED_TRACE(bad);
    SigV4Request r = BotocorePutItem();
    r.headers[6].second = bad;
    SigV4Result result = verifier.Verify(r);
    EXPECT_EQ(SigV4Error::kIncompleteSignature, result.error) << result.message;
    EXPECT_FALSE(result.message.empty());
  }

  auto parsed = ParseSigV4Authorization(
      "AWS4-HMAC-SHA256 Credential=AKIDKEYSTONE/20240102/us-east-1/dynamodb/aws4_request");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(
      "Authorization header requires 'SignedHeaders' parameter. Authorization header requires "
      "'Signature' parameter.",
      parsed.status().message());
}

TEST(SigV4Test, WithoutKeysEverythingIsAccepted) {
  SigV4Verifier verifier(SigV4VerifierOptions{});
  EXPECT_FALSE(verifier.enabled());
  SigV4Request r;
  r.method = "POST";
  r.target = "/";
  EXPECT_TRUE(verifier.Verify(r).ok());
  EXPECT_TRUE(verifier.Verify(BotocorePutItem()).ok());
}

}  // namespace
}  // namespace keystone::daemon
