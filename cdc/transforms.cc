#include "cdc/transforms.h"

#include <openssl/evp.h>

#include <algorithm>

#include "base/check.h"
#include "cdc/json_internal.h"

namespace keystone::cdc {

using store::AttributeType;
using store::AttributeValue;
using store::Item;

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest only fails on allocation failure or a broken OpenSSL build.
  KS_CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

namespace {

std::string HashInput(const AttributeValue& value) {
  switch (value.type()) {
    case AttributeType::kS:
      return value.s();
    case AttributeType::kN:
      return value.n().ToString();
    case AttributeType::kB:
      return value.b();
    case AttributeType::kBool:
      return value.boolean() ? "true" : "false";
    case AttributeType::kNull:
      return "null";
    default: {
      internal::JsonBuffer buffer;
      internal::JsonWriter w(buffer);
      internal::WriteTypedValue(value, w);
      return std::string(buffer.GetString(), buffer.GetSize());
    }
  }
}

bool Listed(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void Keep(const std::vector<std::string>& names, Item* item) {
  for (auto it = item->begin(); it != item->end();) {
    it = Listed(names, it->first) ? std::next(it) : item->erase(it);
  }
}

void Drop(const std::vector<std::string>& names, Item* item) {
  for (const std::string& name : names) item->erase(name);
}

void Rename(const std::string& from, const std::string& to, Item* item) {
  auto it = item->find(from);
  if (it == item->end()) return;
  AttributeValue value = std::move(it->second);
  item->erase(it);
  (*item)[to] = std::move(value);
}

void Replace(const std::vector<std::string>& names, const AttributeValue& with, Item* item) {
  for (const std::string& name : names) {
    auto it = item->find(name);
    if (it != item->end()) it->second = with;
  }
}

void Hash(const std::vector<std::string>& names, Item* item) {
  for (const std::string& name : names) {
    auto it = item->find(name);
    if (it != item->end()) it->second = AttributeValue::S(Sha256Hex(HashInput(it->second)));
  }
}

}  // namespace

Result<TransformChain> TransformChain::Create(const std::vector<TransformOptions>& steps,
                                              const store::TableSchema& schema) {
  TransformChain chain;
  for (size_t i = 0; i < steps.size(); ++i) {
    const TransformOptions& step = steps[i];
    std::string where = "transforms[" + std::to_string(i) + "] (" +
                        std::string(TransformTypeName(step.type)) + "): ";
    switch (step.type) {
      case TransformType::kKeep:
      case TransformType::kDrop:
      case TransformType::kHash:
      case TransformType::kMask:
        if (step.attributes.empty()) return InvalidArgument(where + "needs attributes");
        break;
      case TransformType::kRename:
        if (step.from.empty() || step.to.empty() || step.from == step.to) {
          return InvalidArgument(where + "needs distinct, non-empty from and to");
        }
        break;
      case TransformType::kAddField:
      case TransformType::kAddHeader:
        if (step.name.empty()) return InvalidArgument(where + "needs a name");
        break;
    }
    if (step.type == TransformType::kMask) {
      for (const std::string& name : step.attributes) {
        bool is_key = name == schema.partition_key.name ||
                      (schema.sort_key.has_value() && name == schema.sort_key->name);
        if (is_key) {
          return InvalidArgument(where + "'" + name +
                                 "' is a key attribute; masking it would give every item the "
                                 "same key (use hash)");
        }
      }
    }
    chain.steps_.push_back(step);
  }
  return chain;
}

void TransformChain::Apply(ChangeEvent* change) const {
  for (const TransformOptions& step : steps_) {
    if (step.type == TransformType::kAddHeader) {
      change->headers.emplace_back(step.name, step.value);
      continue;
    }
    if (change->op == ChangeOp::kTruncate) continue;
    for (std::optional<Item>* image : {&change->old_image, &change->new_image}) {
      if (!image->has_value()) continue;
      Item& item = **image;
      switch (step.type) {
        case TransformType::kKeep:
          Keep(step.attributes, &item);
          break;
        case TransformType::kDrop:
          Drop(step.attributes, &item);
          break;
        case TransformType::kRename:
          Rename(step.from, step.to, &item);
          break;
        case TransformType::kMask:
          Replace(step.attributes, AttributeValue::S(step.value), &item);
          break;
        case TransformType::kHash:
          Hash(step.attributes, &item);
          break;
        case TransformType::kAddField:
          item[step.name] = AttributeValue::S(step.value);
          break;
        case TransformType::kAddHeader:
          break;
      }
    }
    if (step.type == TransformType::kRename) Rename(step.from, step.to, &change->keys);
    if (step.type == TransformType::kHash) Hash(step.attributes, &change->keys);
  }
}

bool IsNoopUpdate(const ChangeEvent& change) {
  return change.op == ChangeOp::kUpdate && change.old_image && change.new_image &&
         *change.old_image == *change.new_image;
}

}  // namespace keystone::cdc
