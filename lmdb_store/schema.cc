#include "lmdb_store/schema.h"

#include <map>
#include <set>
#include <string>

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
  KS_RETURN_IF_ERROR(ValidateBillingConfig(schema.billing));
  return ValidateIndexes(schema);
}

std::string_view ProjectionTypeName(ProjectionType type) {
  switch (type) {
    case ProjectionType::kAll:
      return "ALL";
    case ProjectionType::kKeysOnly:
      return "KEYS_ONLY";
    case ProjectionType::kInclude:
      return "INCLUDE";
  }
  return "ALL";
}

bool ParseProjectionType(std::string_view name, ProjectionType* out) {
  for (ProjectionType t :
       {ProjectionType::kAll, ProjectionType::kKeysOnly, ProjectionType::kInclude}) {
    if (name == ProjectionTypeName(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

const SecondaryIndex* FindIndex(const TableSchema& schema, std::string_view name) {
  for (const SecondaryIndex& index : schema.indexes) {
    if (index.name == name) return &index;
  }
  return nullptr;
}

Status ValidateIndexes(const TableSchema& schema) {
  constexpr std::string_view kInvalid = "One or more parameter values were invalid: ";
  auto invalid = [&](const std::string& message) {
    return InvalidArgument(std::string(kInvalid) + message);
  };
  // Every key attribute's type, so that two uses of one name must agree.
  std::map<std::string, AttributeType, std::less<>> key_types;
  auto note_key = [&](const KeyAttribute& key, const std::string& where) -> Status {
    auto [it, inserted] = key_types.emplace(key.name, key.type);
    if (!inserted && it->second != key.type) {
      return invalid("attribute " + key.name + " is of type " +
                     std::string(AttributeTypeName(it->second)) + " in one key schema and " +
                     std::string(AttributeTypeName(key.type)) + " in " + where);
    }
    return Status::Ok();
  };
  KS_RETURN_IF_ERROR(note_key(schema.partition_key, "the table's"));
  if (schema.sort_key) KS_RETURN_IF_ERROR(note_key(*schema.sort_key, "the table's"));
  size_t global = 0, local = 0;
  std::set<std::string, std::less<>> names, non_key;
  for (const SecondaryIndex& index : schema.indexes) {
    if (index.name.size() < 3 || index.name.size() > 255) {
      return invalid(
          "IndexName must be at least 3 characters long and at most 255 characters long");
    }
    for (char c : index.name) {
      if (!IsTableNameChar(c)) {
        return invalid("IndexName '" + index.name +
                       "' may contain only a-z, A-Z, 0-9, '_', '-' and '.'");
      }
    }
    if (!names.insert(index.name).second) return invalid("Duplicate index name: " + index.name);
    std::string where = "index " + index.name;
    KS_RETURN_IF_ERROR(ValidateKeyAttribute(index.partition_key, where + " partition key"));
    KS_RETURN_IF_ERROR(note_key(index.partition_key, where));
    if (index.sort_key) {
      KS_RETURN_IF_ERROR(ValidateKeyAttribute(*index.sort_key, where + " sort key"));
      KS_RETURN_IF_ERROR(note_key(*index.sort_key, where));
      if (index.sort_key->name == index.partition_key.name) {
        return invalid("the partition key and sort key of index " + index.name +
                       " must have different names, both are " + index.partition_key.name);
      }
    }
    if (index.global) {
      ++global;
      bool provisioned = schema.billing.mode == BillingMode::kProvisioned;
      bool has_units = index.read_capacity_units != 0 || index.write_capacity_units != 0;
      if (!provisioned && has_units) {
        return invalid("ProvisionedThroughput should not be specified for index: " + index.name +
                       " when BillingMode is PAY_PER_REQUEST");
      }
      if (provisioned && (index.read_capacity_units == 0 || index.write_capacity_units == 0)) {
        return invalid("ProvisionedThroughput must be specified for index: " + index.name +
                       ", with read and write capacity units of at least 1");
      }
    } else {
      ++local;
      if (!schema.sort_key) {
        return invalid(
            "Table KeySchema does not have a range key, which is required when specifying a "
            "LocalSecondaryIndex");
      }
      if (index.partition_key.name != schema.partition_key.name) {
        return invalid(
            "Index KeySchema does not have the same leading hash key as table KeySchema for "
            "index: " +
            index.name + ". index hash key: " + index.partition_key.name +
            ", table hash key: " + schema.partition_key.name);
      }
      if (!index.sort_key) {
        return invalid("Index KeySchema of local index " + index.name + " must have a range key");
      }
      if (index.read_capacity_units != 0 || index.write_capacity_units != 0) {
        return invalid("local index " + index.name + " takes no ProvisionedThroughput");
      }
    }
    const IndexProjection& projection = index.projection;
    switch (projection.type) {
      case ProjectionType::kAll:
      case ProjectionType::kKeysOnly:
        if (!projection.non_key_attributes.empty()) {
          return invalid("ProjectionType is " + std::string(ProjectionTypeName(projection.type)) +
                         ", but NonKeyAttributes is specified");
        }
        break;
      case ProjectionType::kInclude:
        if (projection.non_key_attributes.empty()) {
          return invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified");
        }
        for (const std::string& name : projection.non_key_attributes) {
          if (name.empty() || name.size() > 255) {
            return invalid("NonKeyAttributes of index " + index.name +
                           " must be 1 to 255 bytes long each");
          }
          non_key.insert(name);
        }
        break;
      default:
        return invalid("unknown ProjectionType of index " + index.name);
    }
  }
  if (global > kMaxGlobalIndexes) {
    return invalid("GlobalSecondaryIndex count exceeds the per-table limit of " +
                   std::to_string(kMaxGlobalIndexes));
  }
  if (local > kMaxLocalIndexes) {
    return invalid("Number of LocalSecondaryIndexes exceeds per-table limit of " +
                   std::to_string(kMaxLocalIndexes));
  }
  if (non_key.size() > kMaxIndexNonKeyAttributes) {
    return invalid("Number of projected attributes in all indexes exceeds limit of " +
                   std::to_string(kMaxIndexNonKeyAttributes) +
                   ", provided: " + std::to_string(non_key.size()));
  }
  return Status::Ok();
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
