// Runs all 10,000 Fashion-MNIST test images through a real hir-worker for each model and checks
// the accuracy models/MODEL_CARD.md states for it ("Accuracy through hir-worker" table), so the
// card cannot drift from what the server actually computes.
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "bench/loadgen.h"
#include "core/idx.h"
#include "harness.h"
#include "protocol/v2_codec.h"

using namespace hir;
using namespace hir::testing;

namespace {

// The "(N / 10000)" count in the card's row for `model` under the hir-worker heading.
int card_count(const std::string& model) {
  std::ifstream in(std::string(HIR_SOURCE_DIR) + "/models/MODEL_CARD.md");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto at = text.find("## Accuracy through hir-worker");
  if (at == std::string::npos) return -1;
  std::regex row("\\|\\s*" + model + "\\s*\\|[^\\n]*\\((\\d+) / 10000\\)");
  std::smatch m;
  std::string rest = text.substr(at);
  if (!std::regex_search(rest, m, row)) return -1;
  return std::stoi(m[1]);
}

// Batches of `batch` images as binary-extension requests.
std::vector<bench::LoadItem> batched(const IdxImages& images, int batch) {
  std::vector<bench::LoadItem> items;
  size_t px = images.image_size();
  for (int start = 0; start < images.count; start += batch) {
    int n = std::min(batch, images.count - start);
    InferRequest req;
    Tensor t;
    t.name = "input";
    t.shape = {n, static_cast<int64_t>(px)};
    t.data.resize(static_cast<size_t>(n) * px * 4);
    for (size_t k = 0; k < static_cast<size_t>(n) * px; ++k) {
      float v = static_cast<float>(images.image(start)[k]) / 255.0f;
      std::memcpy(t.data.data() + k * 4, &v, 4);
    }
    req.inputs.push_back(std::move(t));
    req.outputs.push_back({"probabilities", {}, true});
    auto enc = protocol::encode_infer_request(req, true);
    items.push_back({std::move(enc.body), enc.json_length, start});  // label field: first index
  }
  return items;
}

}  // namespace

class WorkerAccuracy : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkerAccuracy, MatchesModelCard) {
  const std::string model = GetParam();
  auto images = read_idx_images(fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz");
  auto labels = read_idx_labels(fashion_mnist_dir() + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(images.ok() && labels.ok());
  ASSERT_EQ(images->count, 10000);

  std::string dir = temp_dir();
  auto w = start_worker(dir, model, {"--models", model});
  auto items = batched(*images, 100);
  int correct = 0, seen = 0;
  for (const auto& item : items) {
    auto r = call(w.port, "POST", "/v2/models/" + model + "/infer", item.body, body_headers(item));
    ASSERT_EQ(r.status, 200) << r.body;
    auto hl = r.headers.get("inference-header-content-length");
    auto resp = protocol::parse_infer_response(r.body, hl ? std::optional<std::string_view>(*hl) : std::nullopt);
    ASSERT_TRUE(resp.ok()) << resp.status().message();
    const std::string& d = resp->outputs.at(0).data;
    size_t rows = d.size() / 40;
    for (size_t i = 0; i < rows; ++i) {
      float p[10];
      std::memcpy(p, d.data() + i * 40, 40);
      int arg = static_cast<int>(std::max_element(p, p + 10) - p);
      correct += arg == (*labels)[static_cast<size_t>(item.label) + i];
      ++seen;
    }
  }
  EXPECT_EQ(seen, 10000);
  std::printf("[accuracy] %s through hir-worker: %d / 10000 = %.2f%%\n", model.c_str(), correct, correct / 100.0);
  int stated = card_count(model);
  ASSERT_GT(stated, 0) << "no hir-worker figure for " << model << " in models/MODEL_CARD.md";
  // OpenCV picks SIMD kernels by CPU, which can flip a borderline image or two on another
  // machine; more than 3 in 10,000 would mean the card is wrong.
  EXPECT_NEAR(correct, stated, 3) << model << ": measured " << correct << " / 10000 through hir-worker";
}

INSTANTIATE_TEST_SUITE_P(Models, WorkerAccuracy,
                         ::testing::Values("fmnist-tiny", "fmnist-small", "fmnist-large"));
