// TransformChain: keep, drop, rename, mask, hash, add_field, add_header, the
// order of steps, what touches keys, and no-op update detection.

#include "cdc/transforms.h"

#include <gtest/gtest.h>

#include "tests/cdc/cdc_test_util.h"

namespace keystone::cdc {
namespace {

using store::AttributeType;
using store::Item;
using store::ItemBuilder;
using AV = store::AttributeValue;

store::TableSchema Schema() {
  store::TableSchema schema;
  schema.name = "users";
  schema.partition_key = {"pk", AttributeType::kS};
  return schema;
}

TransformOptions Step(TransformType type, std::vector<std::string> attributes = {},
                      std::string name = "", std::string value = "") {
  TransformOptions t;
  t.type = type;
  t.attributes = std::move(attributes);
  t.name = std::move(name);
  t.value = std::move(value);
  return t;
}

TransformOptions Rename(std::string from, std::string to) {
  TransformOptions t;
  t.type = TransformType::kRename;
  t.from = std::move(from);
  t.to = std::move(to);
  return t;
}

ChangeEvent Update() {
  ChangeEvent e;
  e.op = ChangeOp::kUpdate;
  e.sequence = 7;
  e.keys = ItemBuilder().S("pk", "u1").Build();
  e.old_image =
      ItemBuilder().S("pk", "u1").S("email", "a@x.org").S("name", "Al").N("age", 30).Build();
  e.new_image =
      ItemBuilder().S("pk", "u1").S("email", "b@x.org").S("name", "Al").N("age", 31).Build();
  return e;
}

ChangeEvent Apply(const std::vector<TransformOptions>& steps, ChangeEvent e = Update()) {
  auto chain = TransformChain::Create(steps, Schema());
  EXPECT_TRUE(chain.ok()) << chain.status().ToString();
  chain->Apply(&e);
  return e;
}

TEST(TransformTest, KeepAndDropTouchImagesNotKeys) {
  ChangeEvent kept = Apply({Step(TransformType::kKeep, {"name", "age"})});
  EXPECT_EQ(ItemBuilder().S("name", "Al").N("age", 30).Build(), *kept.old_image);
  EXPECT_EQ(ItemBuilder().S("name", "Al").N("age", 31).Build(), *kept.new_image);
  EXPECT_EQ(ItemBuilder().S("pk", "u1").Build(), kept.keys);

  ChangeEvent dropped = Apply({Step(TransformType::kDrop, {"email", "pk", "absent"})});
  EXPECT_EQ(ItemBuilder().S("name", "Al").N("age", 31).Build(), *dropped.new_image);
  EXPECT_EQ(ItemBuilder().S("pk", "u1").Build(), dropped.keys);
}

TEST(TransformTest, RenameAppliesToImagesAndKeys) {
  ChangeEvent e = Apply({Rename("pk", "id"), Rename("age", "years"), Rename("absent", "x")});
  EXPECT_EQ(ItemBuilder().S("id", "u1").Build(), e.keys);
  EXPECT_EQ(
      ItemBuilder().S("id", "u1").S("email", "b@x.org").S("name", "Al").N("years", 31).Build(),
      *e.new_image);
  // Overwrites an existing target.
  ChangeEvent over = Apply({Rename("name", "email")});
  EXPECT_EQ(AV::S("Al"), over.new_image->at("email"));
  EXPECT_EQ(0u, over.new_image->count("name"));
}

TEST(TransformTest, MaskReplacesValuesAndRejectsKeyAttributes) {
  ChangeEvent e = Apply({Step(TransformType::kMask, {"email", "absent"}, "", "****")});
  EXPECT_EQ(AV::S("****"), e.old_image->at("email"));
  EXPECT_EQ(AV::S("****"), e.new_image->at("email"));
  EXPECT_EQ(0u, e.new_image->count("absent"));

  auto bad = TransformChain::Create({Step(TransformType::kMask, {"pk"}, "", "x")}, Schema());
  EXPECT_EQ(StatusCode::kInvalidArgument, bad.status().code());
  EXPECT_NE(std::string::npos, bad.status().message().find("transforms[0] (mask)"));
}

TEST(TransformTest, HashIsSha256HexAndCoversKeys) {
  // Known vectors.
  EXPECT_EQ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Sha256Hex(""));
  EXPECT_EQ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Sha256Hex("abc"));

  ChangeEvent e = Apply({Step(TransformType::kHash, {"email", "pk", "age"})});
  EXPECT_EQ(AV::S(Sha256Hex("b@x.org")), e.new_image->at("email"));
  EXPECT_EQ(AV::S(Sha256Hex("a@x.org")), e.old_image->at("email"));
  EXPECT_EQ(AV::S(Sha256Hex("31")), e.new_image->at("age"));  // N: canonical text
  EXPECT_EQ(AV::S(Sha256Hex("u1")), e.keys.at("pk"));
  EXPECT_EQ(e.keys.at("pk"), e.new_image->at("pk"));  // equal keys hash alike

  ChangeEvent bin;
  bin.op = ChangeOp::kCreate;
  bin.new_image =
      ItemBuilder().B("b", "raw").Bool("t", true).Set("m", AV::M({{"x", AV::N(1)}})).Build();
  bin = Apply({Step(TransformType::kHash, {"b", "t", "m"})}, bin);
  EXPECT_EQ(AV::S(Sha256Hex("raw")), bin.new_image->at("b"));
  EXPECT_EQ(AV::S(Sha256Hex("true")), bin.new_image->at("t"));
  EXPECT_EQ(AV::S(Sha256Hex(R"({"M":{"x":{"N":"1"}}})")), bin.new_image->at("m"));
}

TEST(TransformTest, AddFieldAndAddHeader) {
  ChangeEvent e = Apply({Step(TransformType::kAddField, {}, "origin", "keystone"),
                         Step(TransformType::kAddHeader, {}, "team", "growth"),
                         Step(TransformType::kAddHeader, {}, "env", "prod")});
  EXPECT_EQ(AV::S("keystone"), e.new_image->at("origin"));
  EXPECT_EQ(AV::S("keystone"), e.old_image->at("origin"));
  EXPECT_EQ(0u, e.keys.count("origin"));
  std::vector<std::pair<std::string, std::string>> headers = {{"team", "growth"}, {"env", "prod"}};
  EXPECT_EQ(headers, e.headers);

  // A truncate gets headers, nothing else.
  ChangeEvent t;
  t.op = ChangeOp::kTruncate;
  t = Apply({Step(TransformType::kAddField, {}, "origin", "x"),
             Step(TransformType::kAddHeader, {}, "team", "growth")},
            t);
  EXPECT_FALSE(t.new_image.has_value());
  EXPECT_EQ(1u, t.headers.size());
}

TEST(TransformTest, StepsApplyInOrder) {
  // rename then keep the new name; keep then rename loses it.
  ChangeEvent a = Apply({Rename("name", "n"), Step(TransformType::kKeep, {"n"})});
  EXPECT_EQ(ItemBuilder().S("n", "Al").Build(), *a.new_image);
  ChangeEvent b = Apply({Step(TransformType::kKeep, {"n"}), Rename("name", "n")});
  EXPECT_TRUE(b.new_image->empty());
  // mask then hash hashes the mask.
  ChangeEvent c = Apply(
      {Step(TransformType::kMask, {"email"}, "", "X"), Step(TransformType::kHash, {"email"})});
  EXPECT_EQ(AV::S(Sha256Hex("X")), c.new_image->at("email"));
}

TEST(TransformTest, NoopUpdateDetectionAfterTransforms) {
  EXPECT_FALSE(IsNoopUpdate(Update()));
  // Only email and age changed; dropping them makes the update a no-op.
  EXPECT_TRUE(IsNoopUpdate(Apply({Step(TransformType::kDrop, {"email", "age"})})));
  ChangeEvent no_old = Update();
  no_old.old_image.reset();
  no_old.new_image = ItemBuilder().S("pk", "u1").Build();
  EXPECT_FALSE(IsNoopUpdate(no_old));  // cannot tell without both images
  ChangeEvent insert = Update();
  insert.op = ChangeOp::kCreate;
  insert.new_image = insert.old_image;
  EXPECT_FALSE(IsNoopUpdate(insert));
}

TEST(TransformTest, StepsMissingFieldsAreRejected) {
  EXPECT_FALSE(TransformChain::Create({Step(TransformType::kKeep)}, Schema()).ok());
  EXPECT_FALSE(TransformChain::Create({Rename("a", "a")}, Schema()).ok());
  EXPECT_FALSE(TransformChain::Create({Step(TransformType::kAddHeader)}, Schema()).ok());
  EXPECT_TRUE(TransformChain::Create({}, Schema())->empty());
}

}  // namespace
}  // namespace keystone::cdc
