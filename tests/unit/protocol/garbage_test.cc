// A small deterministic fuzz loop: mutated and truncated versions of valid bodies must never crash
// the parsers, and whatever parses must survive an encode/parse round trip unchanged.
#include <cstdlib>
#include <random>

#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

struct Seed {
  std::string body;
  std::optional<size_t> json_length;
};

std::vector<Seed> seeds() {
  const std::string bin_json =
      R"({"id":"42","inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32",)"
      R"("parameters":{"binary_data_size":16}},{"name":"s","shape":[2],"datatype":"BYTES",)"
      R"("parameters":{"binary_data_size":13}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]})";
  const std::string resp_json =
      R"({"id":"1","model_name":"m","model_version":"1","outputs":[{"name":"o","datatype":"INT16",)"
      R"("shape":[2],"parameters":{"binary_data_size":4}},{"name":"p","datatype":"FP64","shape":[1],"data":[0.5]}]})";
  return {
      {R"({"id":"a","parameters":{"p":1,"q":"s","r":true,"f":0.5},"inputs":[{"name":"x","shape":[2,3],)"
       R"("datatype":"INT32","data":[[1,2,3],[4,5,6]]},{"name":"y","shape":[2],"datatype":"BYTES",)"
       R"("data":["ab","c"]},{"name":"z","shape":[3],"datatype":"BOOL","data":[true,false,true]}],)"
       R"("outputs":[{"name":"o","parameters":{"binary_data":false}}]})",
       std::nullopt},
      {bin_json + le<float>({1, 2, 3, 4}) + bytes_elems({"hello", "w"}), bin_json.size()},
      {resp_json + le<int16_t>({-7, 7}), resp_json.size()},
      {R"({"inputs":[{"name":"u","shape":[4],"datatype":"UINT64","data":[0,1,18446744073709551615,3e3]}]})",
       std::nullopt},
  };
}

std::string mutate(std::string s, std::mt19937& rng) {
  static constexpr char kRaw[] = "{}[]\",:0123456789-+.eE tfnul\\\x00\xff";
  static const std::string kTokens(kRaw, sizeof kRaw - 1);  // keeps the NUL byte
  auto pick = [&rng](size_t n) {
    return n == 0 ? size_t{0} : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  const int edits = rng() % 2 == 0 ? 1 : 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    const size_t at = pick(s.size());
    switch (pick(7)) {
      case 0:
        s.resize(pick(s.size() + 1));
        break;  // truncate
      case 1:
        if (!s.empty()) s[at] = static_cast<char>(rng());
        break;  // any byte
      case 2:
        s.insert(pick(s.size() + 1), 1, kTokens[pick(kTokens.size())]);
        break;
      case 3:
        if (!s.empty()) s.erase(at, 1 + pick(8));
        break;
      case 4:
        if (!s.empty()) s.insert(at, s.substr(at, 1 + pick(16)));
        break;  // repeat a slice
      case 5:   // another digit: the JSON often stays valid and values move across ranges
        if (!s.empty() && s[at] >= '0' && s[at] <= '9') s[at] = static_cast<char>('0' + pick(10));
        break;
      default:
        if (!s.empty()) s[at] = kTokens[pick(kTokens.size())];
        break;
    }
  }
  return s;
}

std::optional<std::string> header_for(const Seed& seed, const std::string& body,
                                      std::mt19937& rng) {
  switch (rng() % 8) {
    case 0:
      return std::nullopt;
    case 1:
      return std::to_string(rng() % (body.size() + 2));
    case 2:
      return std::to_string(static_cast<int64_t>(rng()) - 2147483648LL);
    default:
      if (seed.json_length) return std::to_string(std::min(*seed.json_length, body.size()));
      return std::nullopt;
  }
}

// What parses must re-encode to something that parses to the same tensors.
void check_round_trip(const InferRequest& req) {
  const Encoded enc = encode_infer_request(req, false);
  std::string h;
  Result<InferRequest> again = parse_infer_request(enc.body, header_of(enc, h));
  ASSERT_TRUE(again.ok()) << again.status().to_string() << "\n" << enc.body;
  ASSERT_EQ(again->inputs.size(), req.inputs.size());
  for (size_t i = 0; i < req.inputs.size(); ++i)
    expect_same_tensor(again->inputs[i], req.inputs[i]);
  EXPECT_EQ(again->parameters.size(), req.parameters.size());
}

// 20k by default; HIR_GARBAGE_ITERATIONS runs longer (e.g. under sanitizers), same seed.
int iterations() {
  const char* env = std::getenv("HIR_GARBAGE_ITERATIONS");
  return env != nullptr ? std::atoi(env) : 20000;
}

TEST(Garbage, MutatedBodiesNeverCrash) {
  std::mt19937 rng(20240611);
  const std::vector<Seed> all = seeds();
  int parsed = 0, rejected = 0;
  for (int i = 0; i < iterations(); ++i) {
    const Seed& seed = all[static_cast<size_t>(i) % all.size()];
    const std::string body = mutate(seed.body, rng);
    const std::optional<std::string> h = header_for(seed, body, rng);
    std::optional<std::string_view> hv;
    if (h) hv = *h;
    Result<InferRequest> req = parse_infer_request(body, hv);
    Result<InferResponse> resp = parse_infer_response(body, hv);
    (void)resp.ok();
    if (req.ok()) {
      ++parsed;
      check_round_trip(*req);
      if (::testing::Test::HasFatalFailure()) return;
    } else {
      ++rejected;
      const int http = http_status(req.status().code());
      EXPECT_TRUE(http >= 400 && http <= 501) << req.status().to_string();
      EXPECT_FALSE(req.status().message().empty());
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(parsed, 0) << "the mutations should leave some bodies valid";
}

}  // namespace
}  // namespace hir::protocol
