// The admin API's JSON bodies and its key check: what a body sets, what it leaves to `base`, and
// that every bad field is named in the error.
#include "router/admin_api.h"
#include "router/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace hir;
using namespace hir::router;

namespace {

store::TargetRecord base_target() {
  store::TargetRecord t;
  t.name = "edge-1";
  t.url = "http://127.0.0.1:8101";
  return t;
}

TEST(AdminJson, ATargetBodySetsWhatItNamesAndKeepsTheRest) {
  auto t = parse_target_body(R"({"url":"http://10.0.0.2:9000/v2","class":"cloud","cost_per_request_usd":0.0002,
                                  "concurrency":8,"drained":true})",
                             base_target());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->name, "edge-1");  // kept from base
  EXPECT_EQ(t->url, "http://10.0.0.2:9000/v2");
  EXPECT_EQ(t->hw_class, "cloud");
  EXPECT_EQ(t->cost_per_request, Money::from_usd(0.0002));
  EXPECT_EQ(t->concurrency, 8u);
  EXPECT_EQ(t->queue_capacity, 64u);  // the record's default
  EXPECT_TRUE(t->drained);
  // The JSON form reads back as the same record.
  auto again = parse_target_body(target_json(*t), store::TargetRecord{});
  ASSERT_TRUE(again.ok()) << again.status().message() << " " << target_json(*t);
  EXPECT_EQ(again->url, t->url);
  EXPECT_EQ(again->hw_class, t->hw_class);
  EXPECT_EQ(again->cost_per_request, t->cost_per_request);
  EXPECT_EQ(again->concurrency, t->concurrency);
  EXPECT_EQ(again->drained, t->drained);
}

TEST(AdminJson, BadTargetBodiesNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"colour":"blue"})", "colour"},
      {R"({"url":"ftp://x"})", "url"},
      {R"({"class":"mainframe"})", "class"},
      {R"({"cost_per_request_usd":-1})", "cost_per_request_usd"},
      {R"({"concurrency":0})", "concurrency"},
      {R"({"queue_capacity":"many"})", "queue_capacity"},
      {R"({"timeout_ms":0})", "timeout_ms"},
      {R"({"poll_load":"yes"})", "poll_load"},
      {R"({"name":""})", "name"},
      // Names that no admin path could address again, or that would break a URL or a label.
      {R"({"name":"site/a"})", "name"},
      {R"({"name":"edge 2"})", "name"},
      {R"({"name":"q\"uote"})", "name"},
      {"{\"name\":\"" + std::string(129, 'n') + "\"}", "name"},
      // The YAML file's bounds: before, 1e7 was taken and 1e10 overflowed into "negative".
      {R"({"cost_per_request_usd":1e7})", "cost_per_request_usd"},
      {R"({"cost_per_second_usd":1e10})", "cost_per_second_usd"},
      {R"({"timeout_ms":1e9})", "timeout_ms"},
      {R"({"concurrency":200000})", "concurrency"},
      // A target's token is sent to its url: no other secret of the process may become one.
      {R"({"token_env":"PGPASSWORD"})", "token_env"},
      {R"({"token_env":"HIR_ADMIN_KEY"})", "token_env"},
      {R"({"token_env":"DATABASE_URL"})", "token_env"},
      {R"({"token_env":"HIR_cloud_TOKEN"})", "token_env"},
  };
  for (const auto& [body, field] : cases) {
    auto t = parse_target_body(body, base_target());
    ASSERT_FALSE(t.ok()) << body;
    EXPECT_NE(t.status().message().find(field), std::string::npos) << body << " -> " << t.status().message();
  }
  EXPECT_FALSE(parse_target_body("{", base_target()).ok());
  EXPECT_FALSE(parse_target_body("[]", base_target()).ok());
  EXPECT_FALSE(parse_target_body("", base_target()).ok());
}

TEST(AdminJson, AVariantBodySetsWhatItNamesAndNamesBadFields) {
  store::VariantRecord base;
  base.model = "fmnist";
  auto v = parse_variant_body(R"({"name":"tiny","accuracy":0.85,"accuracy_by_band":[0.9,0.8],"targets":["mcu-1","edge-1"],
                                   "expected_service_ms":10.5,"size_bytes":26176})",
                              base);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->model, "fmnist");
  EXPECT_EQ(v->name, "tiny");
  EXPECT_DOUBLE_EQ(v->accuracy, 0.85);
  EXPECT_EQ(v->accuracy_by_band, (std::vector<double>{0.9, 0.8}));
  EXPECT_EQ(v->targets, (std::vector<std::string>{"mcu-1", "edge-1"}));
  EXPECT_EQ(v->size_bytes, 26176);
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"name":"t","accuracy":1.5})", "accuracy"},
           {R"({"name":"t","accuracy_by_band":[0.5,2]})", "accuracy_by_band"},
           {R"({"name":"t","targets":[1]})", "targets"},
           {R"({"name":"t","size_bytes":-1})", "size_bytes"},
           {R"({"name":"t","targets":[]})", "targets"},  // no target could serve it
           {R"({"accuracy":0.5})", "name"},
       }) {
    auto r = parse_variant_body(body, base);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << body << " -> " << r.status().message();
  }
}

// simdjson reads the first of duplicated members, most JSON tools the last: neither is taken.
TEST(AdminJson, ADuplicatedFieldIsRefusedAndNamed) {
  auto t = parse_target_body(R"({"url":"http://10.0.0.2:9000","drained":true,"drained":false})", base_target());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "duplicate field 'drained'");
  store::VariantRecord base;
  base.model = "fmnist";
  auto v = parse_variant_body(R"({"name":"a","targets":["edge-1"],"name":"b"})", base);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "duplicate field 'name'");
}

TEST(AdminJson, ATokenVariableIsHirSomethingToken) {
  auto t = parse_target_body(R"({"token_env":"HIR_CLOUD_TOKEN"})", base_target());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->token_env, "HIR_CLOUD_TOKEN");
  EXPECT_TRUE(check_token_env("HIR_EU_WEST_2_TOKEN").ok());
  EXPECT_FALSE(check_token_env("HIR__TOKEN").ok());
  EXPECT_FALSE(check_token_env("HIR_REDIS_URL").ok());
  EXPECT_FALSE(check_token_env("CLOUD_TOKEN").ok());
}

// What an admin change logs: the fields that are new or differ, with their new values.
TEST(AdminJson, ChangedFieldsAreThoseThatDiffer) {
  store::TargetRecord before = base_target();
  before.name = "edge-1";
  store::TargetRecord after = before;
  after.concurrency = 7;
  after.token_env = "HIR_EDGE_TOKEN";
  FieldChanges c = changed_fields(target_json(before), target_json(after));
  EXPECT_EQ(c.names, "concurrency,token_env");
  EXPECT_EQ(c.values, R"({"concurrency":7,"token_env":"HIR_EDGE_TOKEN"})");
  EXPECT_EQ(changed_fields(target_json(after), target_json(after)).names, "");  // nothing changed
  FieldChanges fresh = changed_fields("", target_json(after));  // a new record: every field
  EXPECT_TRUE(fresh.names.starts_with("name,url,class,")) << fresh.names;
  EXPECT_EQ(changed_fields("", "").names, "");  // a removal
}

TEST(AdminJson, TheKeyMustMatchExactly) {
  EXPECT_TRUE(admin_key_matches("Bearer s3cret-key", "s3cret-key"));
  EXPECT_TRUE(admin_key_matches("bearer s3cret-key", "s3cret-key"));  // the scheme in any case
  EXPECT_TRUE(admin_key_matches("BEARER s3cret-key", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("Bearer S3CRET-KEY", "s3cret-key"));  // the key exactly
  EXPECT_FALSE(admin_key_matches("Basic s3cret-key", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("Bearer s3cret-kez", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("Bearer s3cret-key ", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("s3cret-key", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("Bearer ", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("", "s3cret-key"));
  EXPECT_FALSE(admin_key_matches("Bearer ", ""));  // no key configured: nothing matches
}

}  // namespace
