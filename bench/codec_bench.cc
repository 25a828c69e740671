// Micro-benchmarks of the data plane's pieces (issue 6, item 3), each on bodies of 1 and 64
// Fashion-MNIST-sized images (784 FP32 values each):
//   BM_Parse*         parse_infer_request, as a worker reads a request; bytes_per_second is the
//                     body's size over the time. BM_ParseJsonDom is the same JSON body read
//                     the DOM way (a backslash in its id sends it there), for the comparison
//                     with the DOM-free reading of numbers (protocol/tensor_data.h).
//   BM_ReadHead*      parse_infer_request_head, as the router reads a request it forwards
//   BM_Encode*        encode_infer_request and encode_infer_response
//   BM_CacheKey       the fallback cache's key (XXH3 over the request), BM_CacheLookup a hit in
//                     the in-process level
//   BM_Int8Fc         the firmware's int8 fully connected kernel (hirfw_fc_fast) on layers of
//                     the MCU model's size; counter MAC/s, to set against the peak stated in
//                     docs/PERFORMANCE.md
// The pixel values are spelled as the codec writes floats (shortest round-trip form), a third of
// them 0 as in real images.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cache/fallback_cache.h"
#include "hirfw/kernels.h"
#include "protocol/v2_codec.h"

namespace {

using namespace hir;

// Wire bytes (little-endian, as x86 holds them).
template <class T>
std::string le(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

InferRequest images(int64_t n) {
  InferRequest req;
  req.id = "bench-1";
  Tensor t;
  t.name = "input";
  t.datatype = DataType::kFp32;
  t.shape = {n, 784};
  std::vector<float> v(static_cast<size_t>(n) * 784);
  std::mt19937 rng(7);
  for (float& x : v) x = rng() % 3 == 0 ? 0.0f : static_cast<float>(rng() % 256) / 255.0f;
  t.data = le(v);
  req.inputs.push_back(std::move(t));
  RequestedOutput o;
  o.name = "probabilities";
  req.outputs.push_back(o);
  return req;
}

struct Body {
  std::string text;
  std::optional<std::string> header;  // Inference-Header-Content-Length
};

Body body(int64_t n, bool binary) {
  InferRequest req = images(n);
  if (binary) req.outputs[0].binary_data = true;
  protocol::Encoded e = protocol::encode_infer_request(req, binary);
  Body b{std::move(e.body), std::nullopt};
  if (e.json_length) b.header = std::to_string(*e.json_length);
  return b;
}

std::optional<std::string_view> header(const Body& b) {
  return b.header ? std::optional<std::string_view>(*b.header) : std::nullopt;
}

template <class F>
void run_on(benchmark::State& state, const Body& b, F&& f) {
  for (auto _ : state) {
    auto r = f(b.text, header(b));
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b.text.size()));
  state.counters["body_bytes"] = static_cast<double>(b.text.size());
}

void BM_ParseJson(benchmark::State& state) {
  run_on(state, body(state.range(0), false), protocol::parse_infer_request);
}
void BM_ParseJsonDom(benchmark::State& state) {
  Body b = body(state.range(0), false);
  const std::string id = R"("id":"bench-1")";
  b.text.replace(b.text.find(id), id.size(), R"("id":"bench\u002d1")");
  run_on(state, b, protocol::parse_infer_request);
}
void BM_ParseBinary(benchmark::State& state) {
  run_on(state, body(state.range(0), true), protocol::parse_infer_request);
}
Result<InferRequest> read_head(std::string_view b, std::optional<std::string_view> h) {
  return protocol::parse_infer_request_head(b, h);
}
void BM_ReadHeadJson(benchmark::State& state) { run_on(state, body(state.range(0), false), read_head); }
void BM_ReadHeadBinary(benchmark::State& state) { run_on(state, body(state.range(0), true), read_head); }

template <bool kBinary>
void encode_request(benchmark::State& state) {
  const InferRequest req = images(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    protocol::Encoded e = protocol::encode_infer_request(req, kBinary);
    bytes = e.body.size();
    benchmark::DoNotOptimize(e);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

template <bool kBinary>
void encode_response(benchmark::State& state) {
  InferResponse resp;
  resp.id = "bench-1";
  resp.model_name = "fmnist-tiny";
  resp.model_version = "1";
  Tensor t;
  t.name = "probabilities";
  t.datatype = DataType::kFp32;
  t.shape = {state.range(0), 10};
  std::vector<float> v(static_cast<size_t>(state.range(0)) * 10);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 10) / 45.0f;
  t.data = le(v);
  resp.outputs.push_back(std::move(t));
  resp.binary.push_back(kBinary);
  size_t bytes = 0;
  for (auto _ : state) {
    protocol::Encoded e = protocol::encode_infer_response(resp);
    bytes = e.body.size();
    benchmark::DoNotOptimize(e);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

void BM_EncodeRequestJson(benchmark::State& state) { encode_request<false>(state); }
void BM_EncodeRequestBinary(benchmark::State& state) { encode_request<true>(state); }
void BM_EncodeResponseJson(benchmark::State& state) { encode_response<false>(state); }
void BM_EncodeResponseBinary(benchmark::State& state) { encode_response<true>(state); }

void BM_CacheKey(benchmark::State& state) {
  const InferRequest req = images(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(cache::make_key(req));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(req.inputs[0].data.size()));
}

// A hit in the in-process level among 10,000 entries (the lookup copies no tensor: the answer is
// shared).
void BM_CacheLookup(benchmark::State& state) {
  static const RealClock clock;
  cache::CacheConfig config;
  cache::ModelPolicy policy;
  policy.model = "fmnist-tiny";
  policy.deterministic = true;
  policy.fresh_hit = true;
  config.models.push_back(policy);
  auto made = cache::FallbackCache::create(config, clock);
  if (!made.ok()) {
    state.SkipWithError(made.status().to_string().c_str());
    return;
  }
  cache::FallbackCache& c = **made;
  InferResponse resp;
  Tensor t;
  t.name = "probabilities";
  t.datatype = DataType::kFp32;
  t.shape = {1, 10};
  t.data = le(std::vector<float>(10, 0.1f));
  resp.outputs.push_back(t);
  InferRequest req = images(1);
  std::vector<cache::CacheKey> keys;
  for (int i = 0; i < 10000; ++i) {
    req.id = std::to_string(i);
    req.inputs[0].data[0] = static_cast<char>(i);
    req.inputs[0].data[1] = static_cast<char>(i >> 8);
    keys.push_back(c.key(req));
    c.store(keys.back(), "fmnist-tiny", resp);
  }
  size_t i = 0;
  for (auto _ : state) {
    auto hit = c.lookup(keys[i++ % keys.size()], "fmnist-tiny", cache::Use::kFreshHit);
    if (!hit) {
      state.SkipWithError("a stored entry was not found");
      break;
    }
    benchmark::DoNotOptimize(hit);
  }
}

// One int8 fully connected layer, in_n inputs to out_n outputs, with valid quantization
// parameters (any: the work does not depend on them).
void BM_Int8Fc(benchmark::State& state) {
  const auto in_n = static_cast<int32_t>(state.range(0));
  const auto out_n = static_cast<int32_t>(state.range(1));
  std::mt19937 rng(11);
  std::vector<int8_t> w(static_cast<size_t>(in_n) * static_cast<size_t>(out_n));
  for (int8_t& x : w) x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::vector<int8_t> in(static_cast<size_t>(in_n));
  for (int8_t& x : in) x = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
  auto le32 = [](const std::vector<int32_t>& v) { return le(v); };
  const std::string bias = le32(std::vector<int32_t>(static_cast<size_t>(out_n), 100));
  const std::string mult = le32(std::vector<int32_t>(static_cast<size_t>(out_n), 1 << 30));
  const std::string shift = le32(std::vector<int32_t>(static_cast<size_t>(out_n), -8));
  hirfw_fc_params p{in_n, out_n, -3, 5, -128, 127, w.data(),
                    reinterpret_cast<const uint8_t*>(bias.data()), reinterpret_cast<const uint8_t*>(mult.data()),
                    reinterpret_cast<const uint8_t*>(shift.data())};
  std::vector<int32_t> folded(static_cast<size_t>(out_n));
  hirfw_fc_fold_bias(&p, folded.data());
  std::vector<int8_t> out(static_cast<size_t>(out_n));
  for (auto _ : state) {
    hirfw_fc_fast(&p, folded.data(), in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(in_n) * out_n,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_ParseJson)->Arg(1)->Arg(64);
BENCHMARK(BM_ParseJsonDom)->Arg(1)->Arg(64);
BENCHMARK(BM_ParseBinary)->Arg(1)->Arg(64);
BENCHMARK(BM_ReadHeadJson)->Arg(1)->Arg(64);
BENCHMARK(BM_ReadHeadBinary)->Arg(1)->Arg(64);
BENCHMARK(BM_EncodeRequestJson)->Arg(1)->Arg(64);
BENCHMARK(BM_EncodeRequestBinary)->Arg(1)->Arg(64);
BENCHMARK(BM_EncodeResponseJson)->Arg(1)->Arg(64);
BENCHMARK(BM_EncodeResponseBinary)->Arg(1)->Arg(64);
BENCHMARK(BM_CacheKey)->Arg(1)->Arg(64);
BENCHMARK(BM_CacheLookup);
BENCHMARK(BM_Int8Fc)->Args({784, 128})->Args({128, 10});

}  // namespace
