// Fuzz target: the PartiQL translator (daemon/partiql.h).
//
// Input: a statement, optionally followed by a line "--params" and a JSON
// array of AttributeValues for its `?` parameters (input that is not a JSON
// array is passed as no parameters). The tables known are "items" (key pk), "events" (pk, sk)
// and its index "events"."by_g" (g, sk); any other table is ResourceNotFound, as
// the store says.
//
// Promise checked beyond not crashing: a statement that translates yields a
// request whose JSON serialises, for an operation PartiQL maps to (EXISTS maps
// to a TransactWriteItems ConditionCheck).

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "daemon/partiql.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using keystone::NotFound;
using keystone::Result;
using keystone::daemon::PartiqlKeys;

Result<PartiqlKeys> LookUpKeys(const std::string& table, const std::string& index) {
  if (table == "items" && index.empty()) return PartiqlKeys{"pk", ""};
  if (table == "events" && index.empty()) return PartiqlKeys{"pk", "sk"};
  if (table == "events" && index == "by_g") return PartiqlKeys{"g", "sk"};
  return NotFound("Requested resource not found");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view statement = input;
  rapidjson::Document parameters;
  const rapidjson::Value* parameters_in = nullptr;
  constexpr std::string_view kParams = "\n--params\n";
  if (size_t at = input.find(kParams); at != std::string_view::npos) {
    statement = input.substr(0, at);
    std::string json(input.substr(at + kParams.size()));
    parameters.Parse(json.c_str(), json.size());
    // TranslatePartiql takes an array (the API refuses any other Parameters).
    if (!parameters.HasParseError() && parameters.IsArray()) parameters_in = &parameters;
  }
  auto plan = keystone::daemon::TranslatePartiql(statement, parameters_in, LookUpKeys);
  if (!plan.ok()) return 0;
  static const std::string_view kOperations[] = {"Query",      "Scan",       "PutItem",
                                                 "UpdateItem", "DeleteItem", "ConditionCheck"};
  bool known = false;
  for (std::string_view op : kOperations) known = known || plan->operation == op;
  if (!known) keystone::fuzz::FuzzFail("a plan for an unexpected operation", plan->operation);
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  if (!plan->request.Accept(writer)) {
    keystone::fuzz::FuzzFail("a plan's request does not serialise", statement);
  }
  return 0;
}
