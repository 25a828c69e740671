// Malformed and invalid requests over real HTTP, to the router and to the worker: each gets a 4xx
// with a JSON {"error": ...}, and the server keeps serving.
#include "harness.h"

using namespace hir;
using namespace hir::testing;

namespace {

struct Bad {
  std::string what;
  std::string body;
  std::string header_length;  // Inference-Header-Content-Length, "" for none
};

std::string data(int n, const std::string& v = "0.5") {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + v;
  return s;
}

std::string input(const std::string& fields) { return R"({"inputs":[{)" + fields + "}]}"; }

std::vector<Bad> bad_requests() {
  const std::string ok_fields = R"("name":"input","datatype":"FP32","shape":[1,784],"data":[)" + data(784) + "]";
  return {
      {"empty body", "", ""},
      {"not JSON", "hello", ""},
      {"truncated JSON", R"({"inputs":[{"name":"input")", ""},
      {"array at top", "[]", ""},
      {"no inputs", "{}", ""},
      {"empty inputs", R"({"inputs":[]})", ""},
      {"inputs not an array", R"({"inputs":{}})", ""},
      {"input without name", input(R"("datatype":"FP32","shape":[1,784],"data":[)" + data(784) + "]"), ""},
      {"unknown input", input(R"("name":"pixels","datatype":"FP32","shape":[1,784],"data":[)" + data(784) + "]"), ""},
      {"unknown datatype", input(R"("name":"input","datatype":"FP33","shape":[1,784],"data":[)" + data(784) + "]"), ""},
      {"wrong datatype", input(R"("name":"input","datatype":"INT32","shape":[1,784],"data":[)" + data(784, "1") + "]"), ""},
      {"FP16 as JSON", input(R"("name":"input","datatype":"FP16","shape":[1,784],"data":[)" + data(784) + "]"), ""},
      {"shape vs data", input(R"("name":"input","datatype":"FP32","shape":[1,784],"data":[1,2,3])"), ""},
      {"wrong shape", input(R"("name":"input","datatype":"FP32","shape":[1,783],"data":[)" + data(783) + "]"), ""},
      {"negative dimension", input(R"("name":"input","datatype":"FP32","shape":[-1,784],"data":[)" + data(784) + "]"), ""},
      {"overflowing shape", input(R"("name":"input","datatype":"FP32","shape":[9223372036854775807,9223372036854775807],"data":[1])"), ""},
      {"shape not numbers", input(R"("name":"input","datatype":"FP32","shape":["a"],"data":[1])"), ""},
      {"string in FP32 data", input(R"("name":"input","datatype":"FP32","shape":[1,1],"data":["x"])"), ""},
      {"batch above max", input(R"("name":"input","datatype":"FP32","shape":[300,784],"data":[)" + data(300 * 784) + "]"), ""},
      {"ragged nested data", input(R"("name":"input","datatype":"FP32","shape":[2,2],"data":[[1,2],[3]])"), ""},
      {"data and binary_data_size", input(ok_fields + R"(,"parameters":{"binary_data_size":3136})"), ""},
      {"unknown requested output", R"({"inputs":[{)" + ok_fields + R"(}],"outputs":[{"name":"logits"}]})", ""},
      {"duplicate requested output", R"({"inputs":[{)" + ok_fields + R"(}],"outputs":[{"name":"probabilities"},{"name":"probabilities"}]})", ""},
      {"duplicate input", R"({"inputs":[{)" + ok_fields + "},{" + ok_fields + "}]}", ""},
      // Triton's classification extension, not offered: before, a plain FP32 tensor came back.
      {"classification asked for", R"({"inputs":[{)" + ok_fields + R"(}],"outputs":[{"name":"probabilities","parameters":{"classification":2}}]})", ""},
      {"parameters not an object", R"({"parameters":[1],"inputs":[{)" + ok_fields + "}]}", ""},
      {"header length not a number", input(ok_fields), "abc"},
      {"header length beyond body", input(ok_fields), "99999999999"},
      {"binary size missing bytes", input(R"("name":"input","datatype":"FP32","shape":[1,784],"parameters":{"binary_data_size":3136})"), "SELF"},
      {"bad priority hint", R"({"parameters":{"priority":"urgent"},"inputs":[{)" + ok_fields + "}]}", ""},
      {"budget hint not a number", R"({"parameters":{"latency_budget_ms":"soon"},"inputs":[{)" + ok_fields + "}]}", ""},
      {"min_accuracy out of range", R"({"parameters":{"min_accuracy":7},"inputs":[{)" + ok_fields + "}]}", ""},
  };
}

void check_all(int port, const std::string& path, bool router) {
  for (const auto& b : bad_requests()) {
    // Hints are the router's; the worker ignores parameters it does not know.
    if (!router && b.what.find("hint") != std::string::npos) continue;
    if (!router && b.what == "min_accuracy out of range") continue;
    net::Headers h;
    h.set("Content-Type", "application/json");
    if (b.header_length == "SELF") h.set("Inference-Header-Content-Length", std::to_string(b.body.size()));
    else if (!b.header_length.empty()) h.set("Inference-Header-Content-Length", b.header_length);
    auto r = call(port, "POST", path, b.body, h);
    EXPECT_GE(r.status, 400) << b.what;
    EXPECT_LT(r.status, 500) << b.what << ": " << r.body.substr(0, 200);
    EXPECT_EQ(r.body.rfind(R"({"error":")", 0), 0u) << b.what << ": " << r.body.substr(0, 200);
  }
  EXPECT_EQ(call(port, "GET", "/v2/health/live").status, 200);
}

}  // namespace

TEST(MalformedIT, EachIsA4xxWithJsonErrorAndServersStayUp) {
  ASSERT_GE(bad_requests().size(), 25u);
  std::string dir = temp_dir();
  auto w = start_worker(dir, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  check_all(r.port, "/v2/models/fmnist/infer", true);
  check_all(w.port, "/v2/models/fmnist-small/infer", false);
  // HTTP-level abuse: a body over the limit and an unknown path.
  net::Headers h;
  auto big = call(r.port, "POST", "/v2/models/fmnist/infer", std::string(65u << 20, 'x'), h);
  // The server answers 413 as soon as it sees the Content-Length (curl shows it); this client
  // writes the whole body first and may find the connection closed instead. Either way the
  // body is refused; tests/unit/net checks the 413 itself.
  EXPECT_TRUE(big.status == 413 || big.status == 0) << big.status;
  EXPECT_EQ(call(r.port, "POST", "/v2/models/fmnist/explode", "{}", h).status, 404);
  EXPECT_EQ(call(r.port, "GET", "/v2/health/ready").status, 200);
}
