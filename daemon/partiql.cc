#include "daemon/partiql.h"

#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace keystone::daemon {
namespace {

using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;

Status Malformed(std::string_view what) {
  return InvalidArgument("Statement wasn't well formed, can't be processed: " + std::string(what));
}

enum class Tok { kEnd, kName, kQuotedName, kString, kNumber, kParam, kPunct };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
};

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A quoted token ('string' or "name") starting at s[*i]; the quote doubled
// stands for itself.
Result<std::string> Quoted(std::string_view s, size_t* i) {
  char quote = s[*i];
  std::string text;
  for (size_t j = *i + 1; j < s.size(); ++j) {
    if (s[j] != quote) {
      text += s[j];
      continue;
    }
    if (j + 1 < s.size() && s[j + 1] == quote) {
      text += quote;
      ++j;
      continue;
    }
    *i = j + 1;
    return text;
  }
  return Malformed(quote == '\'' ? "unterminated string literal" : "unterminated quoted name");
}

Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (IsNameStart(c)) {
      size_t start = i;
      while (i < s.size() && IsNameChar(s[i])) ++i;
      tokens.push_back({Tok::kName, std::string(s.substr(start, i - start))});
      continue;
    }
    if (c == '\'' || c == '"') {
      KS_ASSIGN_OR_RETURN(std::string text, Quoted(s, &i));
      tokens.push_back({c == '\'' ? Tok::kString : Tok::kQuotedName, std::move(text)});
      continue;
    }
    if (IsDigit(c)) {
      size_t start = i;
      while (i < s.size() && IsDigit(s[i])) ++i;
      if (i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1])) {
        ++i;
        while (i < s.size() && IsDigit(s[i])) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && IsDigit(s[j])) {
          i = j;
          while (i < s.size() && IsDigit(s[i])) ++i;
        }
      }
      if (i < s.size() && IsNameChar(s[i])) return Malformed("invalid number literal");
      tokens.push_back({Tok::kNumber, std::string(s.substr(start, i - start))});
      continue;
    }
    if (c == '?') {
      tokens.push_back({Tok::kParam, "?"});
      ++i;
      continue;
    }
    static constexpr std::string_view kTwo[] = {"<<", ">>", "<=", ">=", "<>", "!="};
    bool matched = false;
    for (std::string_view two : kTwo) {
      if (s.substr(i, 2) == two) {
        tokens.push_back({Tok::kPunct, std::string(two)});
        i += 2;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (std::string_view("=<>()[]{},.:*+-").find(c) != std::string_view::npos) {
      tokens.push_back({Tok::kPunct, std::string(1, c)});
      ++i;
      continue;
    }
    if (c == ';') {  // a statement may end with one
      size_t j = i + 1;
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j == s.size()) break;
    }
    return Malformed("unexpected character '" + std::string(1, c) + "'");
  }
  tokens.push_back({Tok::kEnd, ""});
  return tokens;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An operand of a condition or of SET: a path, a value or a function call,
// rendered in expression syntax with placeholders.
struct Operand {
  std::string text;
  bool is_value = false;
  // A path of one top-level name (no .member or [index]): the only form a
  // key condition or a key equality takes.
  std::string bare_name;
  std::set<std::string> names;  // top-level attribute names it reads
  std::string function;         // lower-case name when a function call
  std::vector<Operand> args;    // a function call's arguments
};

// How a conjunct of WHERE can serve as (part of) a key.
enum class KeyForm { kNone, kEquals, kCompare, kBetween, kBeginsWith };

struct Conjunct {
  std::string text;
  std::set<std::string> names;
  KeyForm form = KeyForm::kNone;
  std::string key_name;     // the bare name the form constrains
  std::string placeholder;  // kEquals: the value's placeholder
};

// A condition: its text, and its top-level AND operands (one, itself, when it
// is not an AND).
struct Condition {
  std::string text;
  std::vector<Conjunct> conjuncts;
  std::set<std::string> names;
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Value* parameters, Alloc& alloc)
      : tokens_(std::move(tokens)), parameters_(parameters), alloc_(alloc) {}

  Result<PartiqlPlan> Statement(const PartiqlKeyLookup& keys);

 private:
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool IsKeyword(std::string_view word, size_t ahead = 0) const {
    return Peek(ahead).kind == Tok::kName && IEquals(Peek(ahead).text, word);
  }
  bool IsPunct(std::string_view p) const { return Peek().kind == Tok::kPunct && Peek().text == p; }
  bool AcceptKeyword(std::string_view word) {
    if (!IsKeyword(word)) return false;
    Next();
    return true;
  }
  bool AcceptPunct(std::string_view p) {
    if (!IsPunct(p)) return false;
    Next();
    return true;
  }
  Status Unexpected() const {
    const Token& t = Peek();
    if (t.kind == Tok::kEnd) return Malformed("unexpected end of statement");
    return Malformed("unexpected token '" + t.text + "'");
  }
  Status ExpectKeyword(std::string_view word) {
    if (AcceptKeyword(word)) return Status::Ok();
    if (Peek().kind == Tok::kEnd) {
      return Malformed("expected " + std::string(word) + " before the end of the statement");
    }
    return Malformed("expected " + std::string(word) + ", found '" + Peek().text + "'");
  }
  Status ExpectPunct(std::string_view p) {
    if (AcceptPunct(p)) return Status::Ok();
    if (Peek().kind == Tok::kEnd) {
      return Malformed("expected '" + std::string(p) + "' before the end of the statement");
    }
    return Malformed("expected '" + std::string(p) + "', found '" + Peek().text + "'");
  }
  Result<std::string> Name() {
    if (Peek().kind != Tok::kName && Peek().kind != Tok::kQuotedName) return Unexpected();
    return Next().text;
  }

  std::string NamePlaceholder(const std::string& name) {
    auto [it, added] = names_.try_emplace(name, "");
    if (added) it->second = "#n" + std::to_string(names_.size() - 1);
    return it->second;
  }
  std::string ValuePlaceholder(Value value) {
    std::string placeholder = ":v" + std::to_string(values_.size());
    values_.emplace_back(placeholder, std::move(value));
    return placeholder;
  }

  Result<Value> Parameter();
  Result<Value> Literal();
  bool AtLiteral() const;
  Result<Operand> Path();
  Result<Operand> ParseOperand();
  Result<Operand> SetValue();
  Result<Condition> Or();
  Result<Condition> And();
  Result<Conjunct> Not();
  Result<Conjunct> Predicate();

  Result<PartiqlPlan> Select(const PartiqlKeyLookup& keys);
  Result<PartiqlPlan> Insert(const PartiqlKeyLookup& keys);
  Result<PartiqlPlan> Update(const PartiqlKeyLookup& keys);
  Result<PartiqlPlan> Delete(const PartiqlKeyLookup& keys);
  // UPDATE's and DELETE's common part after their clauses: WHERE, RETURNING
  // (as ReturnValues), the statement's end, and a request on `table` with the Key that
  // WHERE fixes by equalities; *rest gets WHERE's other conditions.
  Result<PartiqlPlan> KeyedWrite(PartiqlPlan::Kind kind, const char* operation,
                                 const std::string& table, const PartiqlKeyLookup& keys,
                                 PartiqlKeys* table_keys, std::string* rest);
  // A request on `table` with the Key that `where` fixes by equalities.
  Result<PartiqlPlan> KeyedRequest(PartiqlPlan::Kind kind, const char* operation,
                                   const std::string& table, const Condition& where,
                                   const PartiqlKeyLookup& keys, PartiqlKeys* table_keys,
                                   std::string* rest);
  // "attribute_exists(partition key)", AND `rest` if any.
  std::string ExistsAnd(const PartiqlKeys& table_keys, const std::string& rest);
  Result<PartiqlPlan> Exists(const PartiqlKeyLookup& keys);
  Status End();
  // Sets ExpressionAttributeNames/Values of `request` to the placeholders
  // `expressions` use (DynamoDB refuses unused ones).
  void AddPlaceholders(Value& request, const std::vector<std::string>& expressions);
  // The key a WHERE fixes by equalities, and the rest of it as a condition.
  Status SplitKey(const Condition& where, const PartiqlKeys& keys, Value* key, std::string* rest);
  const Value& ValueOf(const std::string& placeholder) const {
    for (const auto& [p, v] : values_) {
      if (p == placeholder) return v;
    }
    static const Value kNull;
    return kNull;
  }

  // Nesting (literals, parentheses, NOT, function arguments) is bounded, as
  // DynamoDB bounds documents to 32 levels, so that no statement can run the
  // recursive descent out of stack.
  static constexpr int kMaxDepth = 32;
  class Nested {
   public:
    explicit Nested(Parser* p) : p_(p) { ++p_->depth_; }
    ~Nested() { --p_->depth_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;
    bool too_deep() const { return p_->depth_ > kMaxDepth; }

   private:
    Parser* p_;
  };
  Status TooDeep() const {
    return Malformed("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  const Value* parameters_;
  size_t parameters_used_ = 0;
  Alloc& alloc_;
  std::map<std::string, std::string> names_;           // attribute name -> #nN
  std::vector<std::pair<std::string, Value>> values_;  // :vN -> AttributeValue
};

// The next of the request's Parameters, in statement order.
Result<Value> Parser::Parameter() {
  if (parameters_ == nullptr || parameters_used_ >= parameters_->Size()) {
    return InvalidArgument("Number of parameters in request and statement don't match.");
  }
  const Value& p = (*parameters_)[static_cast<rapidjson::SizeType>(parameters_used_++)];
  if (!p.IsObject() || p.MemberCount() != 1) {
    return InvalidArgument("Parameter " + std::to_string(parameters_used_) +
                           " must be an AttributeValue with exactly one member");
  }
  return Value(p, alloc_);
}

bool Parser::AtLiteral() const {
  const Token& t = Peek();
  switch (t.kind) {
    case Tok::kString:
    case Tok::kNumber:
    case Tok::kParam:
      return true;
    case Tok::kName:
      return IEquals(t.text, "true") || IEquals(t.text, "false") || IEquals(t.text, "null");
    case Tok::kPunct:
      return t.text == "[" || t.text == "{" || t.text == "<<" ||
             (t.text == "-" && Peek(1).kind == Tok::kNumber);
    default:
      return false;
  }
}

// One value as an AttributeValue.
Result<Value> Parser::Literal() {
  Nested nested(this);
  if (nested.too_deep()) return TooDeep();
  const Token& t = Peek();
  Value out(rapidjson::kObjectType);
  auto scalar = [&](const char* type, const std::string& text) {
    out.AddMember(Value(type, alloc_), Value(text.c_str(), alloc_), alloc_);
  };
  if (t.kind == Tok::kParam) {
    Next();
    return Parameter();
  }
  if (t.kind == Tok::kString) {
    scalar("S", Next().text);
    return out;
  }
  if (t.kind == Tok::kNumber) {
    scalar("N", Next().text);
    return out;
  }
  if (t.kind == Tok::kPunct && t.text == "-" && Peek(1).kind == Tok::kNumber) {
    Next();
    scalar("N", "-" + Next().text);
    return out;
  }
  if (AcceptKeyword("true") || IsKeyword("false")) {
    bool value = !AcceptKeyword("false");
    out.AddMember("BOOL", Value(value), alloc_);
    return out;
  }
  if (AcceptKeyword("null")) {
    out.AddMember("NULL", Value(true), alloc_);
    return out;
  }
  if (AcceptPunct("[")) {
    Value list(rapidjson::kArrayType);
    if (!AcceptPunct("]")) {
      do {
        KS_ASSIGN_OR_RETURN(Value element, Literal());
        list.PushBack(std::move(element), alloc_);
      } while (AcceptPunct(","));
      KS_RETURN_IF_ERROR(ExpectPunct("]"));
    }
    out.AddMember("L", std::move(list), alloc_);
    return out;
  }
  if (AcceptPunct("{")) {
    Value map(rapidjson::kObjectType);
    if (!AcceptPunct("}")) {
      do {
        if (Peek().kind != Tok::kString && Peek().kind != Tok::kQuotedName) {
          return Malformed("a map's keys are 'quoted strings'");
        }
        std::string key = Next().text;
        KS_RETURN_IF_ERROR(ExpectPunct(":"));
        KS_ASSIGN_OR_RETURN(Value element, Literal());
        if (map.HasMember(key.c_str())) {
          return Malformed("the map literal has the key '" + key + "' twice");
        }
        map.AddMember(Value(key.c_str(), alloc_), std::move(element), alloc_);
      } while (AcceptPunct(","));
      KS_RETURN_IF_ERROR(ExpectPunct("}"));
    }
    out.AddMember("M", std::move(map), alloc_);
    return out;
  }
  if (AcceptPunct("<<")) {
    Value set(rapidjson::kArrayType);
    std::string type;
    do {
      KS_ASSIGN_OR_RETURN(Value element, Literal());
      const auto& member = *element.MemberBegin();
      std::string element_type = member.name.GetString();
      if (element_type != "S" && element_type != "N" && element_type != "B") {
        return InvalidArgument("A set's elements must be strings, numbers or binaries");
      }
      if (!type.empty() && element_type != type) {
        return InvalidArgument("A set's elements must all be of one type");
      }
      type = element_type;
      set.PushBack(Value(member.value, alloc_), alloc_);
    } while (AcceptPunct(","));
    KS_RETURN_IF_ERROR(ExpectPunct(">>"));
    out.AddMember(Value((type + "S").c_str(), alloc_), std::move(set), alloc_);
    return out;
  }
  return Unexpected();
}

// name ( .name | [index] )*
Result<Operand> Parser::Path() {
  Operand path;
  KS_ASSIGN_OR_RETURN(std::string first, Name());
  path.text = NamePlaceholder(first);
  path.names.insert(first);
  path.bare_name = first;
  for (;;) {
    if (AcceptPunct(".")) {
      KS_ASSIGN_OR_RETURN(std::string member, Name());
      path.text += "." + NamePlaceholder(member);
    } else if (AcceptPunct("[")) {
      if (Peek().kind != Tok::kNumber) return Malformed("a list index must be a number");
      path.text += "[" + Next().text + "]";
      KS_RETURN_IF_ERROR(ExpectPunct("]"));
    } else {
      break;
    }
    path.bare_name.clear();
  }
  return path;
}

Result<Operand> Parser::ParseOperand() {
  Nested nested(this);
  if (nested.too_deep()) return TooDeep();
  if (AtLiteral()) {
    KS_ASSIGN_OR_RETURN(Value value, Literal());
    Operand operand;
    operand.is_value = true;
    operand.text = ValuePlaceholder(std::move(value));
    return operand;
  }
  if (Peek().kind == Tok::kName && Peek(1).kind == Tok::kPunct && Peek(1).text == "(") {
    static const std::set<std::string> kFunctions = {
        "begins_with",          "contains",    "attribute_type", "size",    "attribute_exists",
        "attribute_not_exists", "list_append", "if_not_exists",  "set_add", "set_delete"};
    Operand call;
    call.function = Lower(Next().text);
    if (kFunctions.count(call.function) == 0) {
      return InvalidArgument("Unsupported function: " + call.function);
    }
    Next();  // (
    call.text = call.function + "(";
    if (!IsPunct(")")) {
      do {
        KS_ASSIGN_OR_RETURN(Operand arg, ParseOperand());
        if (!call.args.empty()) call.text += ", ";
        call.text += arg.text;
        call.names.insert(arg.names.begin(), arg.names.end());
        call.args.push_back(std::move(arg));
      } while (AcceptPunct(","));
    }
    KS_RETURN_IF_ERROR(ExpectPunct(")"));
    call.text += ")";
    return call;
  }
  return Path();
}

Result<Operand> Parser::SetValue() {
  KS_ASSIGN_OR_RETURN(Operand value, ParseOperand());
  if (IsPunct("+") || IsPunct("-")) {
    std::string op = Next().text;
    KS_ASSIGN_OR_RETURN(Operand other, ParseOperand());
    value.text += " " + op + " " + other.text;
    value.names.insert(other.names.begin(), other.names.end());
    value.is_value = false;
  }
  return value;
}

Result<Condition> Parser::Or() {
  KS_ASSIGN_OR_RETURN(Condition condition, And());
  bool is_or = false;
  while (AcceptKeyword("or")) {
    KS_ASSIGN_OR_RETURN(Condition other, And());
    condition.text += " OR " + other.text;
    condition.names.insert(other.names.begin(), other.names.end());
    is_or = true;
  }
  if (is_or) {
    Conjunct whole;
    whole.text = "(" + condition.text + ")";
    whole.names = condition.names;
    condition.conjuncts = {std::move(whole)};
  }
  return condition;
}

Result<Condition> Parser::And() {
  Condition condition;
  do {
    KS_ASSIGN_OR_RETURN(Conjunct conjunct, Not());
    if (!condition.text.empty()) condition.text += " AND ";
    condition.text += conjunct.text;
    condition.names.insert(conjunct.names.begin(), conjunct.names.end());
    condition.conjuncts.push_back(std::move(conjunct));
  } while (AcceptKeyword("and"));
  return condition;
}

Result<Conjunct> Parser::Not() {
  Nested nested(this);
  if (nested.too_deep()) return TooDeep();
  if (AcceptKeyword("not")) {
    KS_ASSIGN_OR_RETURN(Conjunct inner, Not());
    Conjunct negated;
    negated.text = "(NOT " + inner.text + ")";
    negated.names = std::move(inner.names);
    return negated;
  }
  return Predicate();
}

Result<Conjunct> Parser::Predicate() {
  Conjunct out;
  if (AcceptPunct("(")) {
    KS_ASSIGN_OR_RETURN(Condition inner, Or());
    KS_RETURN_IF_ERROR(ExpectPunct(")"));
    out.text = "(" + inner.text + ")";
    out.names = std::move(inner.names);
    return out;
  }
  KS_ASSIGN_OR_RETURN(Operand left, ParseOperand());
  out.names = left.names;
  static constexpr std::string_view kComparisons[] = {"=", "<>", "!=", "<", "<=", ">", ">="};
  for (std::string_view op : kComparisons) {
    if (!IsPunct(op)) continue;
    Next();
    KS_ASSIGN_OR_RETURN(Operand right, ParseOperand());
    out.text = left.text + " " + std::string(op == "!=" ? "<>" : op) + " " + right.text;
    out.names.insert(right.names.begin(), right.names.end());
    if (!left.bare_name.empty() && right.is_value && op != "<>" && op != "!=") {
      out.form = op == "=" ? KeyForm::kEquals : KeyForm::kCompare;
      out.key_name = left.bare_name;
      out.placeholder = right.text;
    }
    return out;
  }
  if (AcceptKeyword("between")) {
    KS_ASSIGN_OR_RETURN(Operand low, ParseOperand());
    KS_RETURN_IF_ERROR(ExpectKeyword("and"));
    KS_ASSIGN_OR_RETURN(Operand high, ParseOperand());
    out.text = left.text + " BETWEEN " + low.text + " AND " + high.text;
    out.names.insert(low.names.begin(), low.names.end());
    out.names.insert(high.names.begin(), high.names.end());
    if (!left.bare_name.empty() && low.is_value && high.is_value) {
      out.form = KeyForm::kBetween;
      out.key_name = left.bare_name;
    }
    return out;
  }
  if (AcceptKeyword("in")) {
    std::string close;
    if (AcceptPunct("[")) {
      close = "]";
    } else {
      KS_RETURN_IF_ERROR(ExpectPunct("("));
      close = ")";
    }
    out.text = left.text + " IN (";
    bool first = true;
    do {
      KS_ASSIGN_OR_RETURN(Operand item, ParseOperand());
      out.text += (first ? "" : ", ") + item.text;
      out.names.insert(item.names.begin(), item.names.end());
      first = false;
    } while (AcceptPunct(","));
    KS_RETURN_IF_ERROR(ExpectPunct(close));
    out.text += ")";
    return out;
  }
  if (AcceptKeyword("is")) {
    bool negated = AcceptKeyword("not");
    if (left.is_value || !left.function.empty()) return Malformed("IS applies to a path");
    if (AcceptKeyword("missing")) {
      out.text =
          std::string(negated ? "attribute_exists(" : "attribute_not_exists(") + left.text + ")";
      return out;
    }
    if (AcceptKeyword("null")) {
      Value type(rapidjson::kObjectType);
      type.AddMember("S", "NULL", alloc_);
      out.text = std::string(negated ? "(NOT attribute_type(" : "attribute_type(") + left.text +
                 ", " + ValuePlaceholder(std::move(type)) + (negated ? "))" : ")");
      return out;
    }
    return Malformed("expected MISSING or NULL after IS");
  }
  static const std::set<std::string> kPredicates = {"begins_with", "contains", "attribute_type",
                                                    "attribute_exists", "attribute_not_exists"};
  if (kPredicates.count(left.function) == 0) return Unexpected();
  out.text = left.text;
  if (left.function == "begins_with" && left.args.size() == 2 && !left.args[0].bare_name.empty() &&
      left.args[1].is_value) {
    out.form = KeyForm::kBeginsWith;
    out.key_name = left.args[0].bare_name;
  }
  return out;
}

Status Parser::End() {
  if (Peek().kind == Tok::kEnd) {
    if (parameters_ != nullptr && parameters_used_ != parameters_->Size()) {
      return InvalidArgument("Number of parameters in request and statement don't match.");
    }
    return Status::Ok();
  }
  return Unexpected();
}

bool Uses(const std::string& expression, const std::string& placeholder) {
  for (size_t at = expression.find(placeholder); at != std::string::npos;
       at = expression.find(placeholder, at + 1)) {
    size_t after = at + placeholder.size();
    if (after == expression.size() || !IsDigit(expression[after])) return true;
  }
  return false;
}

void Parser::AddPlaceholders(Value& request, const std::vector<std::string>& expressions) {
  auto used = [&](const std::string& placeholder) {
    for (const std::string& e : expressions) {
      if (Uses(e, placeholder)) return true;
    }
    return false;
  };
  Value names(rapidjson::kObjectType);
  for (const auto& [name, placeholder] : names_) {
    if (used(placeholder)) {
      names.AddMember(Value(placeholder.c_str(), alloc_), Value(name.c_str(), alloc_), alloc_);
    }
  }
  Value values(rapidjson::kObjectType);
  for (const auto& [placeholder, value] : values_) {
    if (used(placeholder)) {
      values.AddMember(Value(placeholder.c_str(), alloc_), Value(value, alloc_), alloc_);
    }
  }
  if (names.MemberCount() > 0) request.AddMember("ExpressionAttributeNames", names, alloc_);
  if (values.MemberCount() > 0) request.AddMember("ExpressionAttributeValues", values, alloc_);
}

Status Parser::SplitKey(const Condition& where, const PartiqlKeys& keys, Value* key,
                        std::string* rest) {
  std::vector<bool> taken(where.conjuncts.size(), false);
  for (const std::string& name : {keys.partition, keys.sort}) {
    if (name.empty()) continue;
    bool found = false;
    for (size_t i = 0; i < where.conjuncts.size() && !found; ++i) {
      const Conjunct& c = where.conjuncts[i];
      if (taken[i] || c.form != KeyForm::kEquals || c.key_name != name) continue;
      key->AddMember(Value(name.c_str(), alloc_), Value(ValueOf(c.placeholder), alloc_), alloc_);
      taken[i] = found = true;
    }
    if (!found) {
      return InvalidArgument(
          "Where clause does not contain a mandatory equality on all key attributes");
    }
  }
  for (size_t i = 0; i < where.conjuncts.size(); ++i) {
    if (taken[i]) continue;
    if (!rest->empty()) *rest += " AND ";
    *rest += where.conjuncts[i].text;
  }
  return Status::Ok();
}

Result<PartiqlPlan> Parser::Statement(const PartiqlKeyLookup& keys) {
  if (AcceptKeyword("select")) return Select(keys);
  if (AcceptKeyword("insert")) return Insert(keys);
  if (AcceptKeyword("update")) return Update(keys);
  if (AcceptKeyword("delete")) return Delete(keys);
  if (AcceptKeyword("exists")) return Exists(keys);
  if (Peek().kind == Tok::kEnd) return Malformed("the statement is empty");
  return Malformed("a statement starts with SELECT, INSERT, UPDATE or DELETE, not '" + Peek().text +
                   "'");
}

Result<PartiqlPlan> Parser::Select(const PartiqlKeyLookup& keys) {
  std::string projection;
  if (!AcceptPunct("*")) {
    do {
      KS_ASSIGN_OR_RETURN(Operand path, Path());
      if (!projection.empty()) projection += ", ";
      projection += path.text;
    } while (AcceptPunct(","));
  }
  KS_RETURN_IF_ERROR(ExpectKeyword("from"));
  KS_ASSIGN_OR_RETURN(std::string table, Name());
  std::string index;
  if (AcceptPunct(".")) {
    KS_ASSIGN_OR_RETURN(index, Name());
  }
  std::optional<Condition> where;
  if (AcceptKeyword("where")) {
    KS_ASSIGN_OR_RETURN(where, Or());
  }
  std::string order_by;
  bool descending = false;
  if (AcceptKeyword("order")) {
    KS_RETURN_IF_ERROR(ExpectKeyword("by"));
    KS_ASSIGN_OR_RETURN(order_by, Name());
    if (AcceptKeyword("desc")) {
      descending = true;
    } else {
      AcceptKeyword("asc");
    }
  }
  KS_RETURN_IF_ERROR(End());

  KS_ASSIGN_OR_RETURN(PartiqlKeys target_keys, keys(table, index));
  std::set<std::string> key_names = {target_keys.partition};
  if (!target_keys.sort.empty()) key_names.insert(target_keys.sort);
  if (!index.empty()) {
    KS_ASSIGN_OR_RETURN(PartiqlKeys table_keys, keys(table, ""));
    key_names.insert(table_keys.partition);
    if (!table_keys.sort.empty()) key_names.insert(table_keys.sort);
  }

  // A Query when WHERE fixes the partition key and the rest can be a filter.
  std::string key_condition, filter;
  if (where) {
    const std::vector<Conjunct>& conjuncts = where->conjuncts;
    std::optional<size_t> partition, sort;
    for (size_t i = 0; i < conjuncts.size(); ++i) {
      const Conjunct& c = conjuncts[i];
      if (!partition && c.form == KeyForm::kEquals && c.key_name == target_keys.partition) {
        partition = i;
      } else if (!sort && !target_keys.sort.empty() && c.form != KeyForm::kNone &&
                 c.key_name == target_keys.sort) {
        sort = i;
      }
    }
    bool query = partition.has_value();
    std::string rest;
    for (size_t i = 0; i < conjuncts.size() && query; ++i) {
      if (i == partition || i == sort) continue;
      for (const std::string& name : conjuncts[i].names) {
        if (key_names.count(name) > 0) query = false;
      }
      if (!rest.empty()) rest += " AND ";
      rest += conjuncts[i].text;
    }
    if (query) {
      key_condition = conjuncts[*partition].text;
      if (sort) key_condition += " AND " + conjuncts[*sort].text;
      filter = rest;
    } else {
      filter = where->text;
    }
  }

  // ORDER BY is a Query's order: it needs one, and names the sort key.
  if (!order_by.empty() && (key_condition.empty() || order_by != target_keys.sort)) {
    return InvalidArgument(
        "ORDER BY needs a WHERE that fixes the partition key by an equality (a query), and "
        "orders by the sort key");
  }
  PartiqlPlan plan;
  plan.kind = PartiqlPlan::Kind::kSelect;
  plan.operation = key_condition.empty() ? "Scan" : "Query";
  if (descending) plan.request.SetObject().AddMember("ScanIndexForward", false, alloc_);
  Value& request = plan.request.IsObject() ? plan.request : plan.request.SetObject();
  request.AddMember("TableName", Value(table.c_str(), alloc_), alloc_);
  if (!index.empty()) request.AddMember("IndexName", Value(index.c_str(), alloc_), alloc_);
  if (!key_condition.empty()) {
    request.AddMember("KeyConditionExpression", Value(key_condition.c_str(), alloc_), alloc_);
  }
  if (!filter.empty()) {
    request.AddMember("FilterExpression", Value(filter.c_str(), alloc_), alloc_);
  }
  if (!projection.empty()) {
    request.AddMember("ProjectionExpression", Value(projection.c_str(), alloc_), alloc_);
  }
  AddPlaceholders(request, {key_condition, filter, projection});

  if (where && index.empty()) {
    Value key(rapidjson::kObjectType);
    std::string rest;
    PartiqlKeys table_keys = target_keys;
    if (SplitKey(*where, table_keys, &key, &rest).ok() && rest.empty()) {
      Value& get = plan.get_request.SetObject();
      get.AddMember("TableName", Value(table.c_str(), alloc_), alloc_);
      get.AddMember("Key", key, alloc_);
      if (!projection.empty()) {
        get.AddMember("ProjectionExpression", Value(projection.c_str(), alloc_), alloc_);
      }
      AddPlaceholders(get, {projection});
    }
  }
  return plan;
}

Result<PartiqlPlan> Parser::Insert(const PartiqlKeyLookup& keys) {
  KS_RETURN_IF_ERROR(ExpectKeyword("into"));
  KS_ASSIGN_OR_RETURN(std::string table, Name());
  KS_RETURN_IF_ERROR(ExpectKeyword("value"));
  KS_ASSIGN_OR_RETURN(Value item, Literal());
  KS_RETURN_IF_ERROR(End());
  if (!item.HasMember("M") || !item["M"].IsObject()) {
    return InvalidArgument("INSERT's VALUE must be a map (an item)");
  }
  KS_ASSIGN_OR_RETURN(PartiqlKeys table_keys, keys(table, ""));
  PartiqlPlan plan;
  plan.kind = PartiqlPlan::Kind::kInsert;
  plan.operation = "PutItem";
  Value& request = plan.request.SetObject();
  request.AddMember("TableName", Value(table.c_str(), alloc_), alloc_);
  request.AddMember("Item", Value(item["M"], alloc_), alloc_);
  std::string condition = "attribute_not_exists(" + NamePlaceholder(table_keys.partition) + ")";
  request.AddMember("ConditionExpression", Value(condition.c_str(), alloc_), alloc_);
  AddPlaceholders(request, {condition});
  return plan;
}

Result<PartiqlPlan> Parser::Update(const PartiqlKeyLookup& keys) {
  KS_ASSIGN_OR_RETURN(std::string table, Name());
  std::string sets, removes, adds, deletes;
  bool any = false;
  for (;;) {
    if (AcceptKeyword("set")) {
      do {
        KS_ASSIGN_OR_RETURN(Operand path, Path());
        KS_RETURN_IF_ERROR(ExpectPunct("="));
        KS_ASSIGN_OR_RETURN(Operand value, SetValue());
        if (value.function == "set_add" || value.function == "set_delete") {
          // a = set_add(a, <<...>>): ADD #a :v; set_delete: DELETE #a :v.
          if (value.args.size() != 2 || value.args[0].text != path.text ||
              !value.args[1].is_value) {
            return InvalidArgument(value.function +
                                   " takes the attribute being set and a set value: a = " +
                                   value.function + "(a, <<...>>)");
          }
          std::string& clause = value.function == "set_add" ? adds : deletes;
          clause += (clause.empty() ? "" : ", ") + path.text + " " + value.args[1].text;
          continue;
        }
        sets += (sets.empty() ? "" : ", ") + path.text + " = " + value.text;
      } while (AcceptPunct(",") && !IsKeyword("set") && !IsKeyword("remove"));
      any = true;
    } else if (AcceptKeyword("remove")) {
      do {
        KS_ASSIGN_OR_RETURN(Operand path, Path());
        removes += (removes.empty() ? "" : ", ") + path.text;
      } while (AcceptPunct(",") && !IsKeyword("set") && !IsKeyword("remove"));
      any = true;
    } else {
      break;
    }
  }
  if (!any) return Malformed("UPDATE needs SET or REMOVE");
  PartiqlKeys table_keys;
  std::string rest;
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan, KeyedWrite(PartiqlPlan::Kind::kUpdate, "UpdateItem", table,
                                                   keys, &table_keys, &rest));
  Value& request = plan.request;
  std::string update;
  for (const auto& [action, clause] : {std::pair<const char*, const std::string&>{"SET", sets},
                                       {"REMOVE", removes},
                                       {"ADD", adds},
                                       {"DELETE", deletes}}) {
    if (clause.empty()) continue;
    update += (update.empty() ? "" : " ") + std::string(action) + " " + clause;
  }
  request.AddMember("UpdateExpression", Value(update.c_str(), alloc_), alloc_);
  // UPDATE changes an item that exists; it never creates one.
  std::string condition = ExistsAnd(table_keys, rest);
  request.AddMember("ConditionExpression", Value(condition.c_str(), alloc_), alloc_);
  AddPlaceholders(request, {update, condition});
  return plan;
}

Result<PartiqlPlan> Parser::KeyedWrite(PartiqlPlan::Kind kind, const char* operation,
                                       const std::string& table, const PartiqlKeyLookup& keys,
                                       PartiqlKeys* table_keys, std::string* rest) {
  KS_RETURN_IF_ERROR(ExpectKeyword("where"));
  KS_ASSIGN_OR_RETURN(Condition where, Or());
  // RETURNING ALL|MODIFIED OLD|NEW *: the write's ReturnValues.
  const char* return_values = nullptr;
  if (AcceptKeyword("returning")) {
    bool all = AcceptKeyword("all");
    if (!all) KS_RETURN_IF_ERROR(ExpectKeyword("modified"));
    bool old = AcceptKeyword("old");
    if (!old) KS_RETURN_IF_ERROR(ExpectKeyword("new"));
    KS_RETURN_IF_ERROR(ExpectPunct("*"));
    return_values = all ? (old ? "ALL_OLD" : "ALL_NEW") : (old ? "UPDATED_OLD" : "UPDATED_NEW");
    if (kind == PartiqlPlan::Kind::kDelete && std::string_view(return_values) != "ALL_OLD") {
      return InvalidArgument("DELETE can return only ALL OLD *");
    }
  }
  KS_RETURN_IF_ERROR(End());
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan,
                      KeyedRequest(kind, operation, table, where, keys, table_keys, rest));
  if (return_values != nullptr) {
    plan.request.AddMember("ReturnValues", rapidjson::StringRef(return_values), alloc_);
  }
  return plan;
}

Result<PartiqlPlan> Parser::KeyedRequest(PartiqlPlan::Kind kind, const char* operation,
                                         const std::string& table, const Condition& where,
                                         const PartiqlKeyLookup& keys, PartiqlKeys* table_keys,
                                         std::string* rest) {
  KS_ASSIGN_OR_RETURN(*table_keys, keys(table, ""));
  PartiqlPlan plan;
  plan.kind = kind;
  plan.operation = operation;
  Value& request = plan.request.SetObject();
  request.AddMember("TableName", Value(table.c_str(), alloc_), alloc_);
  Value key(rapidjson::kObjectType);
  KS_RETURN_IF_ERROR(SplitKey(where, *table_keys, &key, rest));
  request.AddMember("Key", key, alloc_);
  return plan;
}

std::string Parser::ExistsAnd(const PartiqlKeys& table_keys, const std::string& rest) {
  std::string condition = "attribute_exists(" + NamePlaceholder(table_keys.partition) + ")";
  if (!rest.empty()) condition += " AND (" + rest + ")";
  return condition;
}

// EXISTS(SELECT * FROM t WHERE c): a transaction's check that the item c
// names exists and meets the rest of c.
Result<PartiqlPlan> Parser::Exists(const PartiqlKeyLookup& keys) {
  KS_RETURN_IF_ERROR(ExpectPunct("("));
  KS_RETURN_IF_ERROR(ExpectKeyword("select"));
  KS_RETURN_IF_ERROR(ExpectPunct("*"));
  KS_RETURN_IF_ERROR(ExpectKeyword("from"));
  KS_ASSIGN_OR_RETURN(std::string table, Name());
  KS_RETURN_IF_ERROR(ExpectKeyword("where"));
  KS_ASSIGN_OR_RETURN(Condition where, Or());
  KS_RETURN_IF_ERROR(ExpectPunct(")"));
  KS_RETURN_IF_ERROR(End());
  PartiqlKeys table_keys;
  std::string rest;
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan, KeyedRequest(PartiqlPlan::Kind::kExists, "ConditionCheck",
                                                     table, where, keys, &table_keys, &rest));
  std::string condition = ExistsAnd(table_keys, rest);
  plan.request.AddMember("ConditionExpression", Value(condition.c_str(), alloc_), alloc_);
  AddPlaceholders(plan.request, {condition});
  return plan;
}

Result<PartiqlPlan> Parser::Delete(const PartiqlKeyLookup& keys) {
  KS_RETURN_IF_ERROR(ExpectKeyword("from"));
  KS_ASSIGN_OR_RETURN(std::string table, Name());
  PartiqlKeys table_keys;
  std::string rest;
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan, KeyedWrite(PartiqlPlan::Kind::kDelete, "DeleteItem", table,
                                                   keys, &table_keys, &rest));
  if (!rest.empty()) {
    plan.request.AddMember("ConditionExpression", Value(rest.c_str(), alloc_), alloc_);
  }
  AddPlaceholders(plan.request, {rest});
  return plan;
}

}  // namespace

Result<PartiqlPlan> TranslatePartiql(std::string_view statement, const rapidjson::Value* parameters,
                                     const PartiqlKeyLookup& keys) {
  KS_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(statement));
  // The parser's values live in `scratch` until the plan's documents copy
  // them into allocators of their own below.
  rapidjson::Document scratch;
  Parser parser(std::move(tokens), parameters, scratch.GetAllocator());
  KS_ASSIGN_OR_RETURN(PartiqlPlan plan, parser.Statement(keys));
  for (rapidjson::Document* request : {&plan.request, &plan.get_request}) {
    rapidjson::Document owned;
    owned.CopyFrom(*request, owned.GetAllocator());
    request->Swap(owned);
  }
  return plan;
}

}  // namespace keystone::daemon
