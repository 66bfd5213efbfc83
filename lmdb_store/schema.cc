#include "lmdb_store/schema.h"

namespace keystone::store {
namespace {

bool IsTableNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

Status ValidateKeyAttribute(const KeyAttribute& key, std::string_view role) {
  if (key.name.empty() || key.name.size() > 255) {
    return InvalidArgument(std::string(role) + " attribute name must be 1 to 255 bytes long");
  }
  if (key.type != AttributeType::kS && key.type != AttributeType::kN &&
      key.type != AttributeType::kB) {
    return InvalidArgument(std::string(role) + " " + key.name +
                           ": key attributes must be of type S, N or B, not " +
                           std::string(AttributeTypeName(key.type)));
  }
  return Status::Ok();
}

}  // namespace

std::string_view StreamViewTypeName(StreamViewType type) {
  switch (type) {
    case StreamViewType::kKeysOnly:
      return "KEYS_ONLY";
    case StreamViewType::kNewImage:
      return "NEW_IMAGE";
    case StreamViewType::kOldImage:
      return "OLD_IMAGE";
    case StreamViewType::kNewAndOldImages:
      return "NEW_AND_OLD_IMAGES";
  }
  return "NEW_AND_OLD_IMAGES";
}

bool ParseStreamViewType(std::string_view name, StreamViewType* out) {
  for (StreamViewType t : {StreamViewType::kKeysOnly, StreamViewType::kNewImage,
                           StreamViewType::kOldImage, StreamViewType::kNewAndOldImages}) {
    if (name == StreamViewTypeName(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

std::string_view BillingModeName(BillingMode mode) {
  switch (mode) {
    case BillingMode::kPayPerRequest:
      return "PAY_PER_REQUEST";
    case BillingMode::kProvisioned:
      return "PROVISIONED";
  }
  return "PAY_PER_REQUEST";
}

Status ValidateBillingConfig(const BillingConfig& billing) {
  switch (billing.mode) {
    case BillingMode::kPayPerRequest:
      if (billing.read_capacity_units != 0 || billing.write_capacity_units != 0) {
        return InvalidArgument("billing mode PAY_PER_REQUEST takes no capacity units");
      }
      return Status::Ok();
    case BillingMode::kProvisioned:
      if (billing.read_capacity_units == 0 || billing.write_capacity_units == 0) {
        return InvalidArgument(
            "billing mode PROVISIONED needs read and write capacity units of at least 1");
      }
      return Status::Ok();
  }
  return InvalidArgument("unknown billing mode " +
                         std::to_string(static_cast<unsigned>(billing.mode)));
}

Status ValidateTableSchema(const TableSchema& schema) {
  if (schema.name.size() < 3 || schema.name.size() > 255) {
    return InvalidArgument(
        "TableName must be at least 3 characters long and at most 255 characters long");
  }
  for (char c : schema.name) {
    if (!IsTableNameChar(c)) {
      return InvalidArgument("TableName '" + schema.name +
                             "' may contain only a-z, A-Z, 0-9, '_', '-' and '.'");
    }
  }
  KS_RETURN_IF_ERROR(ValidateKeyAttribute(schema.partition_key, "partition key"));
  if (schema.sort_key) {
    KS_RETURN_IF_ERROR(ValidateKeyAttribute(*schema.sort_key, "sort key"));
    if (schema.sort_key->name == schema.partition_key.name) {
      return InvalidArgument("partition key and sort key must have different names, both are " +
                             schema.partition_key.name);
    }
  }
  if (schema.stream.buffer_size == 0) {
    return InvalidArgument("stream buffer_size must be at least 1");
  }
  KS_RETURN_IF_ERROR(ValidateTimeToLiveConfig(schema.ttl));
  KS_RETURN_IF_ERROR(ValidateTags(schema.tags));
  return ValidateBillingConfig(schema.billing);
}

Status ValidateTags(const std::map<std::string, std::string>& tags) {
  if (tags.size() > kMaxTableTags) {
    return InvalidArgument("a table has at most " + std::to_string(kMaxTableTags) +
                           " tags; this would make " + std::to_string(tags.size()));
  }
  for (const auto& [key, value] : tags) {
    if (key.empty() || key.size() > 128) {
      return InvalidArgument("tag key '" + key + "' must be 1-128 bytes long");
    }
    if (value.size() > 256) {
      return InvalidArgument("the value of tag '" + key + "' must be at most 256 bytes long");
    }
  }
  return Status::Ok();
}

Status ValidateTimeToLiveConfig(const TimeToLiveConfig& ttl) {
  if (!ttl.enabled) {
    if (!ttl.attribute_name.empty()) {
      return InvalidArgument("a disabled Time to Live names no attribute");
    }
    return Status::Ok();
  }
  if (ttl.attribute_name.empty() || ttl.attribute_name.size() > 255) {
    return InvalidArgument("TimeToLiveSpecification.AttributeName must be 1-255 bytes long");
  }
  return Status::Ok();
}

}  // namespace keystone::store
