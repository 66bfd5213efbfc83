// Tokenizer and recursive-descent parser for DynamoDB's four expression kinds.
//
// Errors come in two tiers, as in DynamoDB: a syntax error (or a limit) stops
// parsing at once; semantic problems (reserved words, undefined placeholders,
// unknown functions, operand types, overlapping paths...) are remembered and
// reported only once the whole text has parsed, so that a syntax error later
// in the text wins. Among remembered problems the first of the highest
// priority class is reported.
//
// Recursion is bounded: every parenthesis, NOT and function call counts
// towards kMaxExpressionNesting, and the text is at most kMaxExpressionBytes.

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmdb_store/expression.h"
#include "lmdb_store/expression_ast.h"

namespace keystone::store {

namespace {

using Node = ConditionExpression::Node;

enum class Tok : uint8_t {
  kEof,
  kIdent,   // [A-Za-z][A-Za-z0-9_]*
  kNumber,  // [0-9]+
  kName,    // #[A-Za-z0-9_]+
  kValue,   // :[A-Za-z0-9_]+
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kPlus,
  kMinus,
  kUnknown,  // any other character (one UTF-8 sequence)
};

struct Token {
  Tok type = Tok::kEof;
  size_t begin = 0;
  size_t end = 0;
};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentPart(char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Always ends with one kEof token.
std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  const size_t n = text.size();
  size_t i = 0;
  while (true) {
    while (i < n && IsSpace(text[i])) ++i;
    if (i == n) {
      tokens.push_back({Tok::kEof, n, n});
      return tokens;
    }
    const size_t begin = i;
    const char c = text[i];
    Tok type = Tok::kUnknown;
    if (IsAlpha(c)) {
      while (++i < n && IsIdentPart(text[i])) {
      }
      type = Tok::kIdent;
    } else if (IsDigit(c)) {
      while (++i < n && IsDigit(text[i])) {
      }
      type = Tok::kNumber;
    } else if ((c == '#' || c == ':') && i + 1 < n && IsIdentPart(text[i + 1])) {
      ++i;
      while (i < n && IsIdentPart(text[i])) ++i;
      type = c == '#' ? Tok::kName : Tok::kValue;
    } else {
      ++i;
      switch (c) {
        case '(':
          type = Tok::kLParen;
          break;
        case ')':
          type = Tok::kRParen;
          break;
        case '[':
          type = Tok::kLBracket;
          break;
        case ']':
          type = Tok::kRBracket;
          break;
        case ',':
          type = Tok::kComma;
          break;
        case '.':
          type = Tok::kDot;
          break;
        case '=':
          type = Tok::kEq;
          break;
        case '+':
          type = Tok::kPlus;
          break;
        case '-':
          type = Tok::kMinus;
          break;
        case '<':
          type = Tok::kLt;
          if (i < n && text[i] == '>') {
            type = Tok::kNe;
            ++i;
          } else if (i < n && text[i] == '=') {
            type = Tok::kLe;
            ++i;
          }
          break;
        case '>':
          type = Tok::kGt;
          if (i < n && text[i] == '=') {
            type = Tok::kGe;
            ++i;
          }
          break;
        default:
          // Keep a multi-byte UTF-8 character whole, for the message.
          if (static_cast<unsigned char>(c) >= 0xC0) {
            while (i < n && i - begin < 4 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) {
              ++i;
            }
          }
          type = Tok::kUnknown;
          break;
      }
    }
    tokens.push_back({type, begin, i});
  }
}

std::optional<CompareOp> ComparatorOf(Tok type) {
  switch (type) {
    case Tok::kEq:
      return CompareOp::kEq;
    case Tok::kNe:
      return CompareOp::kNe;
    case Tok::kLt:
      return CompareOp::kLt;
    case Tok::kLe:
      return CompareOp::kLe;
    case Tok::kGt:
      return CompareOp::kGt;
    case Tok::kGe:
      return CompareOp::kGe;
    default:
      return std::nullopt;
  }
}

std::string_view CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "<>";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

// "[a, b, [2]]": how DynamoDB names paths in overlap and conflict messages.
std::string PathForMessage(const AttributePath& path) {
  std::string out = "[";
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += ", ";
    if (path[i].is_index) {
      out += "[" + std::to_string(path[i].index) + "]";
    } else {
      out += path[i].name;
    }
  }
  out += "]";
  return out;
}

// "{N:5}": how DynamoDB shows a literal in BETWEEN messages.
std::string ValueForMessage(const AttributeValue& value) {
  switch (value.type()) {
    case AttributeType::kS:
      return "{S:" + value.s() + "}";
    case AttributeType::kN:
      return "{N:" + value.n().ToString() + "}";
    default:
      return value.DebugString();
  }
}

// The long type names DynamoDB uses in ADD / DELETE operand messages.
std::string_view LongTypeName(AttributeType type) {
  switch (type) {
    case AttributeType::kS:
      return "STRING";
    case AttributeType::kN:
      return "NUMBER";
    case AttributeType::kB:
      return "BINARY";
    case AttributeType::kBool:
      return "BOOLEAN";
    case AttributeType::kNull:
      return "NULL";
    case AttributeType::kM:
      return "MAP";
    case AttributeType::kL:
      return "LIST";
    case AttributeType::kSS:
      return "STRING_SET";
    case AttributeType::kNS:
      return "NUMBER_SET";
    case AttributeType::kBS:
      return "BINARY_SET";
  }
  return "?";
}

bool IsSetType(AttributeType type) {
  return type == AttributeType::kSS || type == AttributeType::kNS || type == AttributeType::kBS;
}

// Semantic problems, highest priority first.
enum class Problem : uint8_t {
  kRedundantParens,
  kReserved,
  kUnknownFunction,
  kMisusedFunction,
  kSection,
  kUndefinedName,
  kUndefinedValue,
  kOverlap,
  kConflict,
  kOperandCount,
  kDistinct,
  kOperandType,
  kCount,
};

// Which words may not start a document path (they would be read as keywords).
enum class Context : uint8_t { kCondition, kUpdate, kProjection };

// An operand as written, before it is checked against where it is used.
struct RawOperand {
  enum class Kind : uint8_t { kPath, kValue, kFunction };
  Kind kind = Kind::kValue;
  AttributePath path;                   // kPath
  std::optional<AttributeValue> value;  // kValue; empty when the placeholder is undefined
  std::string function;                 // kFunction
  std::vector<RawOperand> args;         // kFunction
};

class Parser {
 public:
  Parser(std::string_view text, const ExpressionAttributes& attrs, std::string_view kind,
         Context context)
      : text_(text), attrs_(attrs), kind_(kind), context_(context) {}

  // Checks size and emptiness and tokenizes; call first.
  Status Start() {
    if (text_.size() > kMaxExpressionBytes) {
      return Error("Expression size has exceeded the maximum allowed size; expression size: " +
                   std::to_string(text_.size()));
    }
    if (std::all_of(text_.begin(), text_.end(), IsSpace)) {
      return Error("The expression can not be empty;");
    }
    tokens_ = Tokenize(text_);
    return Status::Ok();
  }

  // Requires the whole text to be consumed, then reports the most important
  // remembered problem, if any.
  Status Finish() const {
    if (!At(Tok::kEof)) return SyntaxError();
    for (const auto& problem : problems_) {
      if (problem) return Error(*problem);
    }
    return Status::Ok();
  }

  // --- Conditions ----------------------------------------------------------

  Result<Node> ParseOr() {
    KS_ASSIGN_OR_RETURN(Node first, ParseAnd());
    if (!AtKeyword("OR")) return first;
    Node node;
    node.kind = Node::Kind::kOr;
    node.children.push_back(std::move(first));
    while (AtKeyword("OR")) {
      Next();
      KS_RETURN_IF_ERROR(CountOperator());
      KS_ASSIGN_OR_RETURN(Node next, ParseAnd());
      node.children.push_back(std::move(next));
    }
    return node;
  }

  // --- Update expressions --------------------------------------------------

  Result<std::shared_ptr<const UpdateExpression::Actions>> ParseUpdate() {
    static constexpr std::array<std::string_view, 4> kClauses = {"SET", "REMOVE", "ADD", "DELETE"};
    static constexpr std::array<UpdateAction::Kind, 4> kKinds = {
        UpdateAction::Kind::kSet, UpdateAction::Kind::kRemove, UpdateAction::Kind::kAdd,
        UpdateAction::Kind::kDelete};
    std::array<bool, 4> seen = {};
    std::vector<UpdateAction> actions;
    do {
      size_t clause = kClauses.size();
      for (size_t i = 0; i < kClauses.size(); ++i) {
        if (AtKeyword(kClauses[i])) clause = i;
      }
      if (clause == kClauses.size()) return SyntaxError();
      Next();
      if (seen[clause]) {
        Note(Problem::kSection, "The \"" + std::string(kClauses[clause]) +
                                    "\" section can only be used once in an update expression;");
      }
      seen[clause] = true;
      while (true) {
        UpdateAction action;
        action.kind = kKinds[clause];
        KS_ASSIGN_OR_RETURN(action.path, ParsePath());
        switch (action.kind) {
          case UpdateAction::Kind::kSet: {
            if (!At(Tok::kEq)) return SyntaxError();
            Next();
            KS_ASSIGN_OR_RETURN(action.operand, ParseSetValue());
            break;
          }
          case UpdateAction::Kind::kRemove:
            break;
          case UpdateAction::Kind::kAdd:
          case UpdateAction::Kind::kDelete: {
            if (!At(Tok::kValue)) return SyntaxError();
            std::optional<AttributeValue> value = ResolveValue(Next());
            if (value) {
              const AttributeType type = value->type();
              const bool ok = IsSetType(type) || (action.kind == UpdateAction::Kind::kAdd &&
                                                  type == AttributeType::kN);
              if (!ok) {
                Note(Problem::kOperandType,
                     "Incorrect operand type for operator or function; operator: " +
                         std::string(kClauses[clause]) +
                         ", operand type: " + std::string(LongTypeName(type)));
              }
              action.operand.value = std::move(*value);
            }
            action.operand.kind = UpdateOperand::Kind::kValue;
            break;
          }
        }
        for (const UpdateAction& earlier : actions) CheckOverlap(earlier.path, action.path);
        actions.push_back(std::move(action));
        if (!At(Tok::kComma)) break;
        Next();
      }
    } while (!At(Tok::kEof));
    KS_RETURN_IF_ERROR(Finish());

    auto result = std::make_shared<UpdateExpression::Actions>();
    for (UpdateAction& action : actions) {
      result->paths.push_back(action.path);
      switch (action.kind) {
        case UpdateAction::Kind::kSet:
          result->sets.push_back(std::move(action));
          break;
        case UpdateAction::Kind::kRemove:
          result->removes.push_back(std::move(action));
          break;
        default:
          result->adds_and_deletes.push_back(std::move(action));
          break;
      }
    }
    std::stable_sort(result->sets.begin(), result->sets.end(),
                     [](const auto& a, const auto& b) { return ComparePaths(a.path, b.path) < 0; });
    std::stable_sort(result->removes.begin(), result->removes.end(),
                     [](const auto& a, const auto& b) { return ComparePaths(a.path, b.path) > 0; });
    return std::shared_ptr<const UpdateExpression::Actions>(std::move(result));
  }

  // --- Projections ---------------------------------------------------------

  Result<std::vector<AttributePath>> ParseProjection() {
    std::vector<AttributePath> paths;
    while (true) {
      KS_ASSIGN_OR_RETURN(AttributePath path, ParsePath());
      for (const AttributePath& earlier : paths) CheckOverlap(earlier, path);
      paths.push_back(std::move(path));
      if (!At(Tok::kComma)) break;
      Next();
    }
    KS_RETURN_IF_ERROR(Finish());
    return paths;
  }

 private:
  // --- Tokens --------------------------------------------------------------

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool At(Tok type) const { return Peek().type == type; }
  bool AtKeyword(std::string_view keyword) const {
    return At(Tok::kIdent) && EqualsIgnoreCase(TextOf(Peek()), keyword);
  }
  const Token& Next() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  std::string_view TextOf(const Token& token) const {
    return text_.substr(token.begin, token.end - token.begin);
  }

  // --- Errors and limits ---------------------------------------------------

  Status Error(std::string_view message) const {
    return InvalidArgument("Invalid " + std::string(kind_) + ": " + std::string(message));
  }

  // At the current token; "near" spans the tokens either side of it.
  Status SyntaxError() const {
    const Token& token = tokens_[pos_];
    const bool eof = token.type == Tok::kEof;
    const size_t begin = pos_ > 0 ? tokens_[pos_ - 1].begin : token.begin;
    size_t end = eof ? text_.size() : token.end;
    if (!eof && tokens_[pos_ + 1].type != Tok::kEof) end = tokens_[pos_ + 1].end;
    return Error("Syntax error; token: \"" +
                 (eof ? std::string("<EOF>") : std::string(TextOf(token))) + "\", near: \"" +
                 std::string(text_.substr(begin, end - begin)) + "\"");
  }

  void Note(Problem problem, std::string message) {
    auto& slot = problems_[static_cast<size_t>(problem)];
    if (!slot) slot = std::move(message);
  }

  Status CountOperator() {
    if (++operators_ > kMaxExpressionOperators) {
      return Error("The expression contains too many operators; operator count: " +
                   std::to_string(operators_));
    }
    return Status::Ok();
  }

  Status Enter() {
    if (++depth_ > kMaxExpressionNesting) {
      return Error("The expression is nested too deeply; nesting levels: " +
                   std::to_string(depth_));
    }
    return Status::Ok();
  }
  void Leave() { --depth_; }

  // --- Paths and operands --------------------------------------------------

  bool IsContextKeyword(std::string_view word) const {
    static constexpr std::array<std::string_view, 5> kCondition = {"AND", "OR", "NOT", "BETWEEN",
                                                                   "IN"};
    static constexpr std::array<std::string_view, 4> kUpdate = {"SET", "REMOVE", "ADD", "DELETE"};
    auto matches = [word](std::string_view keyword) { return EqualsIgnoreCase(word, keyword); };
    switch (context_) {
      case Context::kCondition:
        return std::any_of(kCondition.begin(), kCondition.end(), matches);
      case Context::kUpdate:
        return std::any_of(kUpdate.begin(), kUpdate.end(), matches);
      case Context::kProjection:
        return false;
    }
    return false;
  }

  Status ParsePathName(AttributePath* path) {
    const Token& token = Peek();
    PathElement element;
    if (token.type == Tok::kIdent) {
      const std::string_view word = TextOf(token);
      if (path->empty() && IsContextKeyword(word)) return SyntaxError();
      if (IsReservedWord(word)) {
        Note(Problem::kReserved,
             "Attribute name is a reserved keyword; reserved keyword: " + std::string(word));
      }
      element.name = std::string(word);
    } else if (token.type == Tok::kName) {
      Result<std::string> name = attrs_.ResolveName(TextOf(token));
      if (name.ok()) {
        element.name = std::move(name).value();
      } else {
        Note(Problem::kUndefinedName, name.status().message());
        element.name = std::string(TextOf(token));
      }
    } else {
      return SyntaxError();
    }
    Next();
    path->push_back(std::move(element));
    return Status::Ok();
  }

  Result<AttributePath> ParsePath() {
    AttributePath path;
    KS_RETURN_IF_ERROR(ParsePathName(&path));
    while (true) {
      if (At(Tok::kDot)) {
        Next();
        KS_RETURN_IF_ERROR(ParsePathName(&path));
      } else if (At(Tok::kLBracket)) {
        Next();
        if (!At(Tok::kNumber)) return SyntaxError();
        const std::string_view digits = TextOf(Peek());
        PathElement element;
        element.is_index = true;
        auto [end, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), element.index);
        if (ec != std::errc() || end != digits.data() + digits.size()) return SyntaxError();
        Next();
        if (!At(Tok::kRBracket)) return SyntaxError();
        Next();
        path.push_back(std::move(element));
      } else {
        break;
      }
      if (path.size() > static_cast<size_t>(kMaxPathDepth)) {
        return Error("The document path has too many nesting levels; nesting levels: " +
                     std::to_string(path.size()));
      }
    }
    return path;
  }

  std::optional<AttributeValue> ResolveValue(const Token& token) {
    Result<AttributeValue> value = attrs_.ResolveValue(TextOf(token));
    if (!value.ok()) {
      Note(Problem::kUndefinedValue, value.status().message());
      return std::nullopt;
    }
    return std::move(value).value();
  }

  // A document path, a :value, or a function call name(operand, ...).
  Result<RawOperand> ParseOperand() {
    const Token& token = Peek();
    RawOperand operand;
    if (token.type == Tok::kValue) {
      operand.kind = RawOperand::Kind::kValue;
      operand.value = ResolveValue(Next());
      return operand;
    }
    if (token.type == Tok::kIdent && Peek(1).type == Tok::kLParen &&
        !(context_ == Context::kCondition && IsContextKeyword(TextOf(token)))) {
      operand.kind = RawOperand::Kind::kFunction;
      operand.function = std::string(TextOf(token));
      Next();
      Next();
      KS_RETURN_IF_ERROR(CountOperator());
      KS_RETURN_IF_ERROR(Enter());
      while (true) {
        KS_ASSIGN_OR_RETURN(RawOperand arg, ParseOperand());
        operand.args.push_back(std::move(arg));
        if (!At(Tok::kComma)) break;
        Next();
      }
      if (!At(Tok::kRParen)) return SyntaxError();
      Next();
      Leave();
      return operand;
    }
    operand.kind = RawOperand::Kind::kPath;
    KS_ASSIGN_OR_RETURN(operand.path, ParsePath());
    return operand;
  }

  void NoteMisused(std::string_view function) {
    Note(Problem::kMisusedFunction,
         "The function is not allowed to be used this way in an expression; function: " +
             std::string(function));
  }

  void NoteOperandType(std::string_view function, std::string_view type) {
    Note(Problem::kOperandType,
         "Incorrect operand type for operator or function; operator or function: " +
             std::string(function) + ", operand type: " + std::string(type));
  }

  void NoteRequiresPath(std::string_view function) {
    Note(Problem::kOperandType,
         "Operator or function requires a document path; operator or function: " +
             std::string(function));
  }

  bool CheckOperandCount(const RawOperand& function, size_t expected) {
    if (function.args.size() == expected) return true;
    Note(Problem::kOperandCount,
         "Incorrect number of operands for operator or function; operator or function: " +
             function.function + ", number of operands: " + std::to_string(function.args.size()));
    return false;
  }

  void CheckDistinct(std::string_view op, const RawOperand& first, const RawOperand& second) {
    if (first.kind == RawOperand::Kind::kPath && second.kind == RawOperand::Kind::kPath &&
        first.path == second.path) {
      Note(Problem::kDistinct,
           "The first operand must be distinct from the remaining operands for this operator or "
           "function; operator: " +
               std::string(op) + ", first operand: " + PathForMessage(first.path));
    }
  }

  // Two actions (or projected paths) may not touch the same data: one path may
  // not be a prefix of the other, and they may not disagree on whether a step
  // is a map key or a list index.
  void CheckOverlap(const AttributePath& one, const AttributePath& two) {
    const size_t n = std::min(one.size(), two.size());
    for (size_t i = 0; i < n; ++i) {
      if (one[i].is_index != two[i].is_index) {
        Note(Problem::kConflict,
             "Two document paths conflict with each other; must remove or rewrite one of these "
             "paths; path one: " +
                 PathForMessage(one) + ", path two: " + PathForMessage(two));
        return;
      }
      if (!(one[i] == two[i])) return;
    }
    Note(Problem::kOverlap,
         "Two document paths overlap with each other; must remove or rewrite one of these paths; "
         "path one: " +
             PathForMessage(one) + ", path two: " + PathForMessage(two));
  }

  // --- Conditions ----------------------------------------------------------

  Result<Node> ParseAnd() {
    KS_ASSIGN_OR_RETURN(Node first, ParseNot());
    if (!AtKeyword("AND")) return first;
    Node node;
    node.kind = Node::Kind::kAnd;
    node.children.push_back(std::move(first));
    while (AtKeyword("AND")) {
      Next();
      KS_RETURN_IF_ERROR(CountOperator());
      KS_ASSIGN_OR_RETURN(Node next, ParseNot());
      node.children.push_back(std::move(next));
    }
    return node;
  }

  Result<Node> ParseNot() {
    if (!AtKeyword("NOT")) return ParsePrimary();
    Next();
    KS_RETURN_IF_ERROR(CountOperator());
    KS_RETURN_IF_ERROR(Enter());
    KS_ASSIGN_OR_RETURN(Node child, ParseNot());
    Leave();
    Node node;
    node.kind = Node::Kind::kNot;
    node.children.push_back(std::move(child));
    return node;
  }

  Result<Node> ParsePrimary() {
    if (!At(Tok::kLParen)) return ParseCondition();
    Next();
    KS_RETURN_IF_ERROR(Enter());
    KS_ASSIGN_OR_RETURN(Node inner, ParseOr());
    if (!At(Tok::kRParen)) return SyntaxError();
    Next();
    Leave();
    if (inner.parenthesized)
      Note(Problem::kRedundantParens, "The expression has redundant parentheses;");
    inner.parenthesized = true;
    return inner;
  }

  // operand comparator operand | operand BETWEEN operand AND operand |
  // operand IN (operand, ...) | function(...)
  Result<Node> ParseCondition() {
    KS_ASSIGN_OR_RETURN(RawOperand lhs, ParseOperand());
    Node node;
    if (std::optional<CompareOp> op = ComparatorOf(Peek().type)) {
      Next();
      KS_RETURN_IF_ERROR(CountOperator());
      KS_ASSIGN_OR_RETURN(RawOperand rhs, ParseOperand());
      CheckDistinct(CompareOpText(*op), lhs, rhs);
      node.kind = Node::Kind::kCompare;
      node.op = *op;
      node.operands.push_back(ToConditionOperand(std::move(lhs)));
      node.operands.push_back(ToConditionOperand(std::move(rhs)));
      return node;
    }
    if (AtKeyword("BETWEEN")) {
      Next();
      KS_RETURN_IF_ERROR(CountOperator());
      KS_ASSIGN_OR_RETURN(RawOperand lower, ParseOperand());
      if (!AtKeyword("AND")) return SyntaxError();
      Next();
      KS_ASSIGN_OR_RETURN(RawOperand upper, ParseOperand());
      CheckBetweenBounds(lower, upper);
      node.kind = Node::Kind::kBetween;
      node.operands.push_back(ToConditionOperand(std::move(lhs)));
      node.operands.push_back(ToConditionOperand(std::move(lower)));
      node.operands.push_back(ToConditionOperand(std::move(upper)));
      return node;
    }
    if (AtKeyword("IN")) {
      Next();
      KS_RETURN_IF_ERROR(CountOperator());
      if (!At(Tok::kLParen)) return SyntaxError();
      Next();
      node.kind = Node::Kind::kIn;
      node.operands.push_back(ToConditionOperand(std::move(lhs)));
      while (true) {
        KS_ASSIGN_OR_RETURN(RawOperand candidate, ParseOperand());
        node.operands.push_back(ToConditionOperand(std::move(candidate)));
        if (!At(Tok::kComma)) break;
        Next();
      }
      if (!At(Tok::kRParen)) return SyntaxError();
      Next();
      const size_t candidates = node.operands.size() - 1;
      if (candidates > static_cast<size_t>(kMaxInOperands)) {
        return Error("The IN operator is provided with too many operands; number of operands: " +
                     std::to_string(candidates));
      }
      return node;
    }
    if (lhs.kind == RawOperand::Kind::kFunction) return FunctionCondition(std::move(lhs));
    return SyntaxError();
  }

  void CheckBetweenBounds(const RawOperand& lower, const RawOperand& upper) {
    if (lower.kind != RawOperand::Kind::kValue || upper.kind != RawOperand::Kind::kValue ||
        !lower.value || !upper.value) {
      return;
    }
    const AttributeValue& lo = *lower.value;
    const AttributeValue& hi = *upper.value;
    const std::string operands = "lower bound operand: AttributeValue: " + ValueForMessage(lo) +
                                 ", upper bound operand: AttributeValue: " + ValueForMessage(hi);
    if (lo.type() != hi.type()) {
      Note(Problem::kOperandType,
           "The BETWEEN operator requires same data type for lower and upper bounds; " + operands);
      return;
    }
    int order = 0;
    switch (lo.type()) {
      case AttributeType::kS:
        order = lo.s().compare(hi.s());
        break;
      case AttributeType::kB:
        order = lo.b().compare(hi.b());
        break;
      case AttributeType::kN:
        order = lo.n().Compare(hi.n());
        break;
      default:
        break;
    }
    if (order > 0) {
      Note(Problem::kOperandType,
           "The BETWEEN operator requires upper bound to be greater than or equal to lower "
           "bound; " +
               operands);
    }
  }

  // An operand of a comparison, BETWEEN, IN or a function: a path, a value or
  // size(); any other function is misused there.
  ConditionOperand ToConditionOperand(RawOperand raw) {
    ConditionOperand operand;
    switch (raw.kind) {
      case RawOperand::Kind::kPath:
        operand.kind = ConditionOperand::Kind::kPath;
        operand.path = std::move(raw.path);
        return operand;
      case RawOperand::Kind::kValue:
        operand.kind = ConditionOperand::Kind::kValue;
        if (raw.value) operand.value = std::move(*raw.value);
        return operand;
      case RawOperand::Kind::kFunction:
        break;
    }
    if (!IsConditionFunction(raw.function)) {
      NoteUnknownFunction(raw.function);
      return operand;
    }
    if (raw.function != "size") {
      NoteMisused(raw.function);
      return operand;
    }
    if (!CheckOperandCount(raw, 1)) return operand;
    RawOperand& arg = raw.args[0];
    switch (arg.kind) {
      case RawOperand::Kind::kPath:
        operand.kind = ConditionOperand::Kind::kSize;
        operand.path = std::move(arg.path);
        break;
      case RawOperand::Kind::kValue: {
        int64_t size = 0;
        if (arg.value && !ValueSize(*arg.value, &size)) {
          NoteOperandType("size", AttributeTypeName(arg.value->type()));
        }
        operand.kind = ConditionOperand::Kind::kValue;
        operand.value = AttributeValue::N(size);
        break;
      }
      case RawOperand::Kind::kFunction:
        if (IsConditionFunction(arg.function)) {
          NoteMisused(arg.function);
        } else {
          NoteUnknownFunction(arg.function);
        }
        break;
    }
    return operand;
  }

  static bool IsConditionFunction(std::string_view name) {
    static constexpr std::array<std::string_view, 6> kFunctions = {
        "attribute_exists", "attribute_not_exists",
        "attribute_type",   "begins_with",
        "contains",         "size"};
    return std::find(kFunctions.begin(), kFunctions.end(), name) != kFunctions.end();
  }

  void NoteUnknownFunction(std::string_view name) {
    Note(Problem::kUnknownFunction, "Invalid function name; function: " + std::string(name));
  }

  // A function used as a condition: attribute_exists, attribute_not_exists,
  // attribute_type, begins_with or contains.
  Node FunctionCondition(RawOperand function) {
    Node node;  // an empty AND: what invalid input leaves behind; never evaluated
    const std::string& name = function.function;
    size_t arity = 0;
    if (name == "attribute_exists") {
      node.kind = Node::Kind::kExists;
      arity = 1;
    } else if (name == "attribute_not_exists") {
      node.kind = Node::Kind::kNotExists;
      arity = 1;
    } else if (name == "attribute_type") {
      node.kind = Node::Kind::kType;
      arity = 2;
    } else if (name == "begins_with") {
      node.kind = Node::Kind::kBeginsWith;
      arity = 2;
    } else if (name == "contains") {
      node.kind = Node::Kind::kContains;
      arity = 2;
    } else if (name == "size") {
      NoteMisused(name);
      return Node();
    } else {
      NoteUnknownFunction(name);
      return Node();
    }
    if (!CheckOperandCount(function, arity)) return Node();
    if (arity == 2) CheckDistinct(name, function.args[0], function.args[1]);

    const bool first_is_path = function.args[0].kind == RawOperand::Kind::kPath;
    if ((node.kind == Node::Kind::kExists || node.kind == Node::Kind::kNotExists ||
         node.kind == Node::Kind::kType) &&
        !first_is_path) {
      NoteRequiresPath(name);
    }
    if (node.kind == Node::Kind::kType) {
      const RawOperand& type_arg = function.args[1];
      if (type_arg.kind != RawOperand::Kind::kValue) {
        NoteOperandType(name, "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
      } else if (type_arg.value) {
        const AttributeValue& type_name = *type_arg.value;
        if (!type_name.is(AttributeType::kS)) {
          NoteOperandType(name, AttributeTypeName(type_name.type()));
        } else if (!ParseAttributeTypeName(type_name.s(), &node.type)) {
          Note(Problem::kOperandType, "Invalid attribute type name found; type: " + type_name.s() +
                                          ", valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
        }
      }
      node.operands.push_back(ToConditionOperand(std::move(function.args[0])));
      return node;
    }
    for (RawOperand& arg : function.args) {
      ConditionOperand operand = ToConditionOperand(std::move(arg));
      if (node.kind == Node::Kind::kBeginsWith) {
        if (operand.kind == ConditionOperand::Kind::kSize) {
          NoteOperandType(name, "N");
        } else if (operand.kind == ConditionOperand::Kind::kValue &&
                   !operand.value.is(AttributeType::kS) && !operand.value.is(AttributeType::kB)) {
          // An undefined placeholder leaves NULL here too; its own problem
          // outranks this one.
          NoteOperandType(name, AttributeTypeName(operand.value.type()));
        }
      }
      node.operands.push_back(std::move(operand));
    }
    return node;
  }

  // --- Update values -------------------------------------------------------

  // operand | operand + operand | operand - operand, optionally in one pair of
  // parentheses; each operand may itself be in parentheses.
  Result<UpdateOperand> ParseSetValue() {
    UpdateOperand lhs;
    if (At(Tok::kLParen)) {
      Next();
      KS_RETURN_IF_ERROR(Enter());
      KS_ASSIGN_OR_RETURN(lhs, ParseSetOperand());
      if (At(Tok::kPlus) || At(Tok::kMinus)) {
        KS_ASSIGN_OR_RETURN(UpdateOperand sum, ParseArithmetic(std::move(lhs)));
        if (!At(Tok::kRParen)) return SyntaxError();
        Next();
        Leave();
        return sum;
      }
      if (!At(Tok::kRParen)) return SyntaxError();
      Next();
      Leave();
    } else {
      KS_ASSIGN_OR_RETURN(lhs, ParseSetOperand());
    }
    if (At(Tok::kPlus) || At(Tok::kMinus)) return ParseArithmetic(std::move(lhs));
    return lhs;
  }

  // At + or -: reads the operator and the right operand.
  Result<UpdateOperand> ParseArithmetic(UpdateOperand lhs) {
    const bool plus = At(Tok::kPlus);
    Next();
    KS_RETURN_IF_ERROR(CountOperator());
    KS_ASSIGN_OR_RETURN(UpdateOperand rhs, ParseSetOperand());
    UpdateOperand result;
    result.kind = plus ? UpdateOperand::Kind::kPlus : UpdateOperand::Kind::kMinus;
    for (const UpdateOperand* operand : {&lhs, &rhs}) {
      if (operand->kind == UpdateOperand::Kind::kValue && !operand->value.is(AttributeType::kN)) {
        NoteOperandType(plus ? "+" : "-", AttributeTypeName(operand->value.type()));
      }
    }
    result.args.push_back(std::move(lhs));
    result.args.push_back(std::move(rhs));
    return result;
  }

  Result<UpdateOperand> ParseSetOperand() {
    if (At(Tok::kLParen)) {
      Next();
      KS_RETURN_IF_ERROR(Enter());
      KS_ASSIGN_OR_RETURN(UpdateOperand inner, ParseSetOperand());
      if (!At(Tok::kRParen)) return SyntaxError();
      Next();
      Leave();
      return inner;
    }
    KS_ASSIGN_OR_RETURN(RawOperand raw, ParseOperand());
    return ToUpdateOperand(std::move(raw), /*in_list_append=*/false);
  }

  UpdateOperand ToUpdateOperand(RawOperand raw, bool in_list_append) {
    UpdateOperand operand;
    switch (raw.kind) {
      case RawOperand::Kind::kPath:
        operand.kind = UpdateOperand::Kind::kPath;
        operand.path = std::move(raw.path);
        return operand;
      case RawOperand::Kind::kValue:
        operand.kind = UpdateOperand::Kind::kValue;
        if (raw.value) operand.value = std::move(*raw.value);
        return operand;
      case RawOperand::Kind::kFunction:
        break;
    }
    if (raw.function == "if_not_exists") {
      operand.kind = UpdateOperand::Kind::kIfNotExists;
      if (!CheckOperandCount(raw, 2)) return operand;
      if (raw.args[0].kind != RawOperand::Kind::kPath) NoteRequiresPath(raw.function);
    } else if (raw.function == "list_append") {
      if (in_list_append) NoteMisused(raw.function);
      operand.kind = UpdateOperand::Kind::kListAppend;
      if (!CheckOperandCount(raw, 2)) return operand;
      for (const RawOperand& arg : raw.args) {
        if (arg.kind == RawOperand::Kind::kValue && arg.value &&
            !arg.value->is(AttributeType::kL)) {
          NoteOperandType(raw.function, AttributeTypeName(arg.value->type()));
        }
      }
    } else {
      NoteUnknownFunction(raw.function);
      return operand;
    }
    const bool list_append = operand.kind == UpdateOperand::Kind::kListAppend;
    for (RawOperand& arg : raw.args) {
      operand.args.push_back(ToUpdateOperand(std::move(arg), list_append));
    }
    return operand;
  }

  std::string_view text_;
  const ExpressionAttributes& attrs_;
  std::string_view kind_;
  Context context_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int operators_ = 0;
  int depth_ = 0;
  std::array<std::optional<std::string>, static_cast<size_t>(Problem::kCount)> problems_;
};

Result<std::shared_ptr<const Node>> ParseConditionTree(std::string_view text,
                                                       const ExpressionAttributes& attrs,
                                                       std::string_view kind) {
  Parser parser(text, attrs, kind, Context::kCondition);
  KS_RETURN_IF_ERROR(parser.Start());
  KS_ASSIGN_OR_RETURN(Node root, parser.ParseOr());
  KS_RETURN_IF_ERROR(parser.Finish());
  return std::shared_ptr<const Node>(std::make_shared<Node>(std::move(root)));
}

// --- Key conditions ----------------------------------------------------------

Status UnsupportedKeyOperator(std::string_view op) {
  return InvalidArgument("Invalid operator used in KeyConditionExpression: " + std::string(op));
}

// The AND-ed conditions of a key condition, or the error for any other
// operator.
Status CollectKeyConditions(const Node& node, std::vector<const Node*>* leaves) {
  switch (node.kind) {
    case Node::Kind::kAnd:
      for (const Node& child : node.children) {
        KS_RETURN_IF_ERROR(CollectKeyConditions(child, leaves));
      }
      return Status::Ok();
    case Node::Kind::kOr:
      return UnsupportedKeyOperator("OR");
    case Node::Kind::kNot:
      return UnsupportedKeyOperator("NOT");
    case Node::Kind::kIn:
      return UnsupportedKeyOperator("IN");
    case Node::Kind::kExists:
      return UnsupportedKeyOperator("attribute_exists");
    case Node::Kind::kNotExists:
      return UnsupportedKeyOperator("attribute_not_exists");
    case Node::Kind::kType:
      return UnsupportedKeyOperator("attribute_type");
    case Node::Kind::kContains:
      return UnsupportedKeyOperator("contains");
    case Node::Kind::kCompare:
      if (node.op == CompareOp::kNe) return UnsupportedKeyOperator("<>");
      [[fallthrough]];
    case Node::Kind::kBetween:
    case Node::Kind::kBeginsWith:
      leaves->push_back(&node);
      return Status::Ok();
  }
  return Status::Ok();
}

// One condition on one key attribute, normalised to `key op value(s)`.
struct KeyTerm {
  std::string name;
  KeyCondition::SortOp op = KeyCondition::SortOp::kNone;
  AttributeValue value;
  AttributeValue value2;
};

bool IsTopLevelName(const ConditionOperand& operand) {
  return operand.kind == ConditionOperand::Kind::kPath && operand.path.size() == 1;
}

Status KeyConditionNotSupported() { return InvalidArgument("Query key condition not supported"); }

Result<KeyTerm> ToKeyTerm(const Node& node) {
  KeyTerm term;
  const std::vector<ConditionOperand>& operands = node.operands;
  auto is_value = [](const ConditionOperand& o) {
    return o.kind == ConditionOperand::Kind::kValue;
  };
  switch (node.kind) {
    case Node::Kind::kCompare: {
      static constexpr std::array<KeyCondition::SortOp, 6> kOps = {
          KeyCondition::SortOp::kEq, KeyCondition::SortOp::kNone, KeyCondition::SortOp::kLt,
          KeyCondition::SortOp::kLe, KeyCondition::SortOp::kGt,   KeyCondition::SortOp::kGe};
      // `:v < sk` is `sk > :v`.
      static constexpr std::array<KeyCondition::SortOp, 6> kFlipped = {
          KeyCondition::SortOp::kEq, KeyCondition::SortOp::kNone, KeyCondition::SortOp::kGt,
          KeyCondition::SortOp::kGe, KeyCondition::SortOp::kLt,   KeyCondition::SortOp::kLe};
      const size_t op = static_cast<size_t>(node.op);
      if (IsTopLevelName(operands[0]) && is_value(operands[1])) {
        term.name = operands[0].path[0].name;
        term.op = kOps[op];
        term.value = operands[1].value;
      } else if (is_value(operands[0]) && IsTopLevelName(operands[1])) {
        term.name = operands[1].path[0].name;
        term.op = kFlipped[op];
        term.value = operands[0].value;
      } else {
        return KeyConditionNotSupported();
      }
      return term;
    }
    case Node::Kind::kBetween:
      if (!IsTopLevelName(operands[0]) || !is_value(operands[1]) || !is_value(operands[2])) {
        return KeyConditionNotSupported();
      }
      term.name = operands[0].path[0].name;
      term.op = KeyCondition::SortOp::kBetween;
      term.value = operands[1].value;
      term.value2 = operands[2].value;
      return term;
    case Node::Kind::kBeginsWith:
      if (!IsTopLevelName(operands[0]) || !is_value(operands[1])) return KeyConditionNotSupported();
      term.name = operands[0].path[0].name;
      term.op = KeyCondition::SortOp::kBeginsWith;
      term.value = operands[1].value;
      return term;
    default:
      return KeyConditionNotSupported();
  }
}

}  // namespace

int ComparePaths(const AttributePath& a, const AttributePath& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const PathElement& x = a[i];
    const PathElement& y = b[i];
    if (x.is_index != y.is_index) return x.is_index ? 1 : -1;
    if (x.is_index) {
      if (x.index != y.index) return x.index < y.index ? -1 : 1;
    } else if (int order = x.name.compare(y.name); order != 0) {
      return order < 0 ? -1 : 1;
    }
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// --- ConditionExpression -------------------------------------------------------

ConditionExpression::ConditionExpression(std::shared_ptr<const Node> root)
    : root_(std::move(root)) {}
ConditionExpression::ConditionExpression(ConditionExpression&&) noexcept = default;
ConditionExpression& ConditionExpression::operator=(ConditionExpression&&) noexcept = default;
ConditionExpression::~ConditionExpression() = default;

Result<ConditionExpression> ConditionExpression::Parse(std::string_view text,
                                                       const ExpressionAttributes& attrs,
                                                       std::string_view kind) {
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const Node> root, ParseConditionTree(text, attrs, kind));
  return ConditionExpression(std::move(root));
}

// --- UpdateExpression ----------------------------------------------------------

UpdateExpression::UpdateExpression(std::shared_ptr<const Actions> actions)
    : actions_(std::move(actions)) {}
UpdateExpression::UpdateExpression(UpdateExpression&&) noexcept = default;
UpdateExpression& UpdateExpression::operator=(UpdateExpression&&) noexcept = default;
UpdateExpression::~UpdateExpression() = default;

Result<UpdateExpression> UpdateExpression::Parse(std::string_view text,
                                                 const ExpressionAttributes& attrs) {
  Parser parser(text, attrs, "UpdateExpression", Context::kUpdate);
  KS_RETURN_IF_ERROR(parser.Start());
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const Actions> actions, parser.ParseUpdate());
  return UpdateExpression(std::move(actions));
}

// --- ProjectionExpression ------------------------------------------------------

Result<ProjectionExpression> ProjectionExpression::Parse(std::string_view text,
                                                         const ExpressionAttributes& attrs) {
  Parser parser(text, attrs, "ProjectionExpression", Context::kProjection);
  KS_RETURN_IF_ERROR(parser.Start());
  ProjectionExpression projection;
  KS_ASSIGN_OR_RETURN(projection.paths_, parser.ParseProjection());
  return projection;
}

// --- KeyCondition --------------------------------------------------------------

Result<KeyCondition> KeyCondition::Parse(std::string_view text, const ExpressionAttributes& attrs,
                                         std::string_view partition_key_name,
                                         std::string_view sort_key_name) {
  KS_ASSIGN_OR_RETURN(std::shared_ptr<const Node> root,
                      ParseConditionTree(text, attrs, "KeyConditionExpression"));
  std::vector<const Node*> leaves;
  KS_RETURN_IF_ERROR(CollectKeyConditions(*root, &leaves));

  std::optional<KeyTerm> partition;
  std::optional<KeyTerm> sort;
  bool other_attribute = false;
  for (const Node* leaf : leaves) {
    KS_ASSIGN_OR_RETURN(KeyTerm term, ToKeyTerm(*leaf));
    std::optional<KeyTerm>* slot = nullptr;
    if (term.name == partition_key_name) {
      slot = &partition;
    } else if (!sort_key_name.empty() && term.name == sort_key_name) {
      slot = &sort;
    } else {
      other_attribute = true;
      continue;
    }
    if (*slot)
      return InvalidArgument("KeyConditionExpressions must only contain one condition per key");
    *slot = std::move(term);
  }
  if (!partition) {
    return InvalidArgument("Query condition missed key schema element: " +
                           std::string(partition_key_name));
  }
  if (other_attribute) {
    if (!sort_key_name.empty() && !sort) {
      return InvalidArgument("Query condition missed key schema element: " +
                             std::string(sort_key_name));
    }
    return KeyConditionNotSupported();
  }
  if (partition->op != SortOp::kEq) return KeyConditionNotSupported();

  KeyCondition condition;
  condition.partition_key_name = std::move(partition->name);
  condition.partition_value = std::move(partition->value);
  if (sort) {
    condition.sort_op = sort->op;
    condition.sort_key_name = std::move(sort->name);
    condition.sort_value = std::move(sort->value);
    condition.sort_value2 = std::move(sort->value2);
  }
  return condition;
}

}  // namespace keystone::store
