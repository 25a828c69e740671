#include "worker/model_config.h"

#include <gtest/gtest.h>

#include "worker/repository.h"
#include "unit/worker/test_repo.h"

namespace hir::worker {
namespace {

using testing::config_named;
using testing::kSmallConfig;
using testing::TempRepo;

TEST(ModelConfig, ParsesTheRepositoryFormat) {
  auto c = parse_model_config(R"(name: fmnist-small
platform: onnxruntime_onnx
max_batch_size: 256            # >0: shapes exclude the leading batch dimension
inputs:
  - {name: input, datatype: FP32, shape: [784]}
outputs:
  - {name: probabilities, datatype: FP32, shape: [10]}
)",
                              "config.yaml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->name, "fmnist-small");
  EXPECT_EQ(c->platform, "onnxruntime_onnx");
  EXPECT_EQ(c->max_batch_size, 256);
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].name, "input");
  EXPECT_EQ(c->inputs[0].datatype, DataType::kFp32);
  EXPECT_EQ(c->inputs[0].shape, Shape({784}));
  EXPECT_EQ(c->outputs[0].shape, Shape({10}));
  EXPECT_TRUE(check_supported(*c).ok());

  const RowLayout rows = row_layout(*c);
  EXPECT_EQ(rows.features, 784);
  EXPECT_EQ(rows.outputs, 10);
  EXPECT_EQ(batch_of(*c, {32, 784}), 32);
  EXPECT_EQ(output_shape(*c, 32), Shape({32, 10}));

  ModelSignature sig = signature_of(*c, {"1", "2"});
  EXPECT_EQ(sig.inputs[0].shape, Shape({-1, 784}));  // Triton's leading -1 for a batching model
  EXPECT_EQ(sig.outputs[0].shape, Shape({-1, 10}));
  EXPECT_EQ(sig.versions, std::vector<std::string>({"1", "2"}));
  EXPECT_EQ(sig.max_batch_size, 256);
}

TEST(ModelConfig, NonBatchingModelKeepsItsShape) {
  auto c = parse_model_config(R"(name: m
platform: onnxruntime_onnx
inputs: [{name: x, datatype: FP32, shape: [1, 16]}]
outputs: [{name: y, datatype: FP32, shape: [1, 2]}]
)",
                              "m");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->max_batch_size, 0);
  EXPECT_EQ(signature_of(*c, {"1"}).inputs[0].shape, Shape({1, 16}));
  EXPECT_EQ(row_layout(*c).features, 16);
  EXPECT_EQ(batch_of(*c, {1, 16}), 1);
  EXPECT_EQ(output_shape(*c, 1), Shape({1, 2}));
}

TEST(ModelConfig, BadFilesAreErrorsNotExceptions) {
  const char* bad[] = {
      "",                                  // empty document
      "name: [unclosed",                   // YAML syntax
      "- just\n- a list\n",                // not a map
      "name: m\ninputs: []\n",             // no outputs
      "name: m\ninputs: 3\noutputs: []\n",  // inputs not a list
      "name: m\nmax_batch_size: lots\ninputs: []\noutputs: []\n",
      "name: m\nmax_batch_size: -1\ninputs: []\noutputs: []\n",
      "inputs: [{name: x, datatype: FLOAT, shape: [1]}]\noutputs: []\n",  // bad datatype
      "inputs: [{name: x, datatype: FP32, shape: [a]}]\noutputs: []\n",  // bad dimension
      "inputs: [{name: x, datatype: FP32, shape: [0]}]\noutputs: []\n",  // zero dimension
      "inputs: [{datatype: FP32, shape: [1]}]\noutputs: []\n",           // no name
      "inputs: [{name: x, datatype: FP32}]\noutputs: []\n",              // no shape
      "inputs: [7]\noutputs: []\n",
  };
  for (const char* text : bad) {
    auto c = parse_model_config(text, "bad.yaml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(c.status().message().find("bad.yaml"), std::string::npos) << c.status().message();
  }
}

TEST(ModelConfig, UnsupportedModelsSayWhy) {
  auto unsupported = [](const std::string& text) {
    auto c = parse_model_config(text, "x");
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? check_supported(*c) : Status::Ok();
  };
  Status s = unsupported(
      "name: m\nplatform: tensorflow_savedmodel\n"
      "inputs: [{name: x, datatype: FP32, shape: [1]}]\n"
      "outputs: [{name: y, datatype: FP32, shape: [1]}]\n");
  EXPECT_EQ(s.code(), Code::kUnimplemented);
  EXPECT_NE(s.message().find("platform"), std::string::npos);
  s = unsupported(
      "name: m\nplatform: onnxruntime_onnx\n"
      "inputs: [{name: x, datatype: INT8, shape: [1]}]\n"
      "outputs: [{name: y, datatype: FP32, shape: [1]}]\n");
  EXPECT_NE(s.message().find("FP32"), std::string::npos);
  s = unsupported(
      "name: m\nplatform: onnxruntime_onnx\n"
      "inputs: [{name: x, datatype: FP32, shape: [1]}, {name: z, datatype: FP32, shape: [1]}]\n"
      "outputs: [{name: y, datatype: FP32, shape: [1]}]\n");
  EXPECT_NE(s.message().find("one input"), std::string::npos);
  s = unsupported(
      "name: m\nplatform: onnxruntime_onnx\n"
      "inputs: [{name: x, datatype: FP32, shape: [-1]}]\n"
      "outputs: [{name: y, datatype: FP32, shape: [1]}]\n");
  EXPECT_NE(s.message().find("variable"), std::string::npos);
}

TEST(ModelConfig, MissingFileIsNotFound) {
  auto c = load_model_config("/nonexistent/hir/config.yaml");
  EXPECT_EQ(c.status().code(), Code::kNotFound);
}

TEST(Repository, VersionDirectoryNames) {
  EXPECT_EQ(parse_version_dir("1"), 1);
  EXPECT_EQ(parse_version_dir("0042"), 42);
  EXPECT_FALSE(parse_version_dir("0"));
  EXPECT_FALSE(parse_version_dir("-1"));
  EXPECT_FALSE(parse_version_dir("+1"));
  EXPECT_FALSE(parse_version_dir("v1"));
  EXPECT_FALSE(parse_version_dir(""));
  EXPECT_FALSE(parse_version_dir("99999999999999999999"));
}

TEST(Repository, ScansModelsAndVersionsSkippingBadEntries) {
  TempRepo repo;
  repo.add_model("alpha", config_named("alpha"), {1, 3, 2});
  repo.add_model("beta", config_named("beta"), {7});
  repo.write("alpha/notaversion/model.onnx", "x");   // ignored, like Triton
  repo.write("alpha/5/README", "no model.onnx here");  // not servable: skipped
  repo.write("broken/config.yaml", "name: [oops");
  repo.add_model("noversions", config_named("noversions"), {});
  repo.add_model("misnamed", config_named("other"), {1});
  repo.write("README.md", "a file at the top is ignored");

  auto scan = scan_repository(repo.root());
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  ASSERT_EQ(scan->models.size(), 2u);
  const RepositoryModel& a = scan->models[0];
  EXPECT_EQ(a.config.name, "alpha");
  ASSERT_EQ(a.versions.size(), 3u);
  EXPECT_EQ(a.versions[0].version, 1);
  EXPECT_EQ(a.versions[2].version, 3);
  EXPECT_EQ(a.signature.versions, std::vector<std::string>({"1", "2", "3"}));
  EXPECT_EQ(scan->models[1].config.name, "beta");
  EXPECT_EQ(scan->problems.size(), 3u);  // broken, misnamed, noversions
}

TEST(Repository, ExplicitModelListFailsLoudly) {
  TempRepo repo;
  repo.add_model("alpha", config_named("alpha"), {1});
  repo.add_model("beta", config_named("beta"), {1});
  repo.write("broken/config.yaml", "name: [oops");

  auto only = scan_repository(repo.root(), {"beta"});
  ASSERT_TRUE(only.ok()) << only.status().to_string();
  ASSERT_EQ(only->models.size(), 1u);
  EXPECT_EQ(only->models[0].config.name, "beta");

  auto missing = scan_repository(repo.root(), {"alpha", "gamma"});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("gamma"), std::string::npos);

  auto broken = scan_repository(repo.root(), {"broken"});
  EXPECT_FALSE(broken.ok());
}

TEST(Repository, NothingServableIsAnError) {
  TempRepo repo;
  EXPECT_EQ(scan_repository(repo.root()).status().code(), Code::kNotFound);
  repo.write("broken/config.yaml", "platform: nope");
  auto scan = scan_repository(repo.root());
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.status().message().find("broken"), std::string::npos);
  EXPECT_EQ(scan_repository(repo.root() / "absent").status().code(), Code::kNotFound);
}

TEST(Repository, RealModelsDirectoryScans) {
  const std::filesystem::path models = std::filesystem::path(HIR_SOURCE_DIR) / "models";
  auto scan = scan_repository(models);
  if (!scan.ok()) GTEST_SKIP() << "no trained models yet: " << scan.status().to_string();
  for (const RepositoryModel& m : scan->models) {
    EXPECT_TRUE(check_supported(m.config).ok()) << m.config.name;
    EXPECT_FALSE(m.versions.empty());
  }
}

}  // namespace
}  // namespace hir::worker
