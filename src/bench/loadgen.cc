#include "bench/loadgen.h"

#include <fmt/format.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/idx.h"
#include "core/percentile.h"
#include "net/event_loop.h"
#include "protocol/v2_codec.h"

namespace hir::bench {
namespace {

void decode_into(LoadResult& out, const net::HttpResponse& r) {
  auto hl = r.headers.get("inference-header-content-length");
  auto resp = protocol::parse_infer_response(r.body, hl ? std::optional<std::string_view>(*hl) : std::nullopt);
  if (!resp.ok()) {
    out.error = resp.status().message();
    return;
  }
  if (auto t = param_string(resp->parameters, "hir_target")) out.target = *t;
  if (resp->outputs.empty() || resp->outputs[0].datatype != DataType::kFp32) return;
  const std::string& d = resp->outputs[0].data;
  size_t n = d.size() / 4;
  float best = -1;
  for (size_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, d.data() + i * 4, 4);
    if (v > best) {
      best = v;
      out.predicted = static_cast<int>(i);
    }
  }
}

// Shared state of one run. Every callback runs on the loop's single thread.
struct Run {
  const std::vector<LoadItem>& items;
  const LoadOptions& opts;
  net::EventLoop& loop;
  net::HttpClient& client;
  std::vector<LoadResult> results;
  size_t next = 0, done = 0;
  TimePoint start{};
  std::shared_ptr<net::EventLoop::Timer> pacer;

  bool finished() const { return next >= results.size() || (opts.cancel && opts.cancel->load()); }

  // Open loop: one request now (unless too many are outstanding), the next at its due time.
  void pace() {
    if (finished()) {
      if (done == next) loop.stop();
      return;
    }
    if (next - done >= static_cast<size_t>(kMaxPacedInFlight)) {
      // Behind schedule with the cap reached: look again shortly rather than spin.
      pacer = loop.run_after(std::chrono::milliseconds(1), [this] { pace(); });
      return;
    }
    send();
    auto due = start + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
                           static_cast<double>(next) / opts.rate_per_s));
    pacer = loop.run_after(std::max(Duration::zero(), due - SteadyClock::now()), [this] { pace(); });
  }

  void issue() {
    if (finished()) {
      if (done == next) loop.stop();
      return;
    }
    send();
  }

  void send() {
    size_t i = next++;
    const LoadItem& item = items[i % items.size()];
    net::HttpRequest req;
    req.method = "POST";
    req.target = opts.path;
    req.body = item.body;
    if (item.json_length) {
      req.headers.set("Content-Type", "application/octet-stream");
      req.headers.set("Inference-Header-Content-Length", std::to_string(*item.json_length));
    } else {
      req.headers.set("Content-Type", "application/json");
    }
    auto t0 = SteadyClock::now();
    client.send(opts.url, std::move(req), opts.timeout, [this, i, t0](Result<net::HttpResponse> r) {
      LoadResult& out = results[i];
      out.latency_ms = to_ms(SteadyClock::now() - t0);
      if (!r.ok()) out.error = r.status().message();
      else {
        out.status = r->status;
        if (r->status == 200) decode_into(out, *r);
        else out.error = r->body.substr(0, 200);
      }
      ++done;
      if (opts.rate_per_s <= 0) issue();
      else if (finished() && done == next) loop.stop();
    });
  }
};

}  // namespace

std::vector<LoadResult> run_closed_loop(const std::vector<LoadItem>& items, const LoadOptions& opts) {
  net::EventLoop loop;
  net::HttpClient client(loop);
  if (items.empty()) return {};
  Run run{items, opts, loop, client, std::vector<LoadResult>(opts.total ? opts.total : items.size()), 0, 0, {}, {}};
  loop.post([&run] {
    run.start = SteadyClock::now();
    if (run.opts.rate_per_s > 0) return run.pace();
    for (int k = 0; k < std::max(1, run.opts.concurrency); ++k) run.issue();
  });
  loop.run(1);
  run.results.resize(run.next);  // requests never issued (cancelled) are not reported
  return std::move(run.results);
}

Result<std::vector<LoadItem>> fmnist_test_requests(size_t limit, bool binary,
                                                   const std::function<void(size_t, InferRequest&)>& decorate) {
  auto dir = fashion_mnist_dir();
  auto images = read_idx_images(dir + "/t10k-images-idx3-ubyte.gz");
  if (!images.ok()) return images.status();
  auto labels = read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz");
  if (!labels.ok()) return labels.status();
  size_t n = std::min({limit, static_cast<size_t>(images->count), labels->size()});
  size_t px = images->image_size();
  std::vector<LoadItem> items;
  items.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    InferRequest req;
    Tensor t;
    t.name = "input";
    t.datatype = DataType::kFp32;
    t.shape = {1, static_cast<int64_t>(px)};
    t.data.resize(px * 4);
    for (size_t k = 0; k < px; ++k) {
      float v = static_cast<float>(images->pixels[i * px + k]) / 255.0f;
      std::memcpy(t.data.data() + k * 4, &v, 4);
    }
    req.inputs.push_back(std::move(t));
    req.outputs.push_back({"probabilities", {}, binary});
    if (decorate) decorate(i, req);
    auto enc = protocol::encode_infer_request(req, binary);
    items.push_back({std::move(enc.body), enc.json_length, (*labels)[i]});
  }
  return items;
}

Summary summarize(const std::vector<LoadResult>& results, const std::vector<LoadItem>& items) {
  Summary s;
  std::vector<double> lat;
  double total = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    ++s.sent;
    ++s.per_status[r.status];
    if (r.status != 200) continue;
    ++s.ok;
    lat.push_back(r.latency_ms);
    total += r.latency_ms;
    ++s.per_target[r.target.empty() ? "(direct)" : r.target];
    const LoadItem& item = items[i % items.size()];
    if (item.label >= 0) {
      ++s.labelled;
      if (r.predicted == item.label) ++s.correct;
    }
  }
  s.mean = lat.empty() ? 0 : total / static_cast<double>(lat.size());
  s.p50 = percentile(lat, 0.50);
  s.p95 = percentile(lat, 0.95);
  s.p99 = percentile(lat, 0.99);
  return s;
}

std::string format_summary(const Summary& s, double wall_seconds) {
  std::string out;
  auto pct = [](size_t a, size_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  out += fmt::format("  requests      {} sent, {} ok ({:.2f}%), {:.0f} req/s\n", s.sent, s.ok,
                     pct(s.ok, s.sent), wall_seconds > 0 ? static_cast<double>(s.sent) / wall_seconds : 0);
  // Figures over no answer are not zeros: a run where nothing succeeded says so.
  if (s.labelled > 0)
    out += fmt::format("  accuracy      {:.2f}% ({} of {} labelled images)\n", pct(s.correct, s.labelled),
                       s.correct, s.labelled);
  else
    out += "  accuracy      n/a (no labelled image was answered)\n";
  if (s.ok > 0)
    out += fmt::format("  latency ms    p50 {:.2f}  p95 {:.2f}  p99 {:.2f}  mean {:.2f}\n", s.p50, s.p95,
                       s.p99, s.mean);
  else
    out += "  latency ms    n/a (no request was answered 200)\n";
  for (const auto& [t, n] : s.per_target)
    out += fmt::format("  target        {:<12} {:>6} ({:.1f}%)\n", t, n, pct(n, s.ok));
  for (const auto& [code, n] : s.per_status)
    if (code != 200)
      out += fmt::format("  status        {:<12} {:>6}{}\n", code == 0 ? std::string("no reply") : std::to_string(code), n,
                         code == 0 ? "  (connection refused or reset, or no answer in time)" : "");
  return out;
}

}  // namespace hir::bench

namespace hir::bench {

namespace {
std::atomic<bool> g_bench_interrupted{false};
extern "C" void on_bench_interrupt(int) { g_bench_interrupted = true; }
}  // namespace

int run_bench(const BenchOptions& opts) {
  auto url = net::Url::parse(opts.url);
  if (!url.ok()) {
    std::fprintf(stderr, "hir bench: --url: %s\n", url.status().message().c_str());
    return 2;
  }
  auto images = fmnist_test_requests(10000, !opts.json);
  if (!images.ok()) {
    std::fprintf(stderr, "hir bench: %s\n", images.status().message().c_str());
    return 2;
  }
  const std::vector<LoadItem>& items = *images;
  LoadOptions lo;
  lo.total = opts.requests;
  lo.url = *url;
  lo.path = "/v2/models/" + opts.model + "/infer";
  lo.concurrency = opts.concurrency;
  // Ctrl-C ends a long run early with the figures of what was sent (requests in flight finish).
  lo.cancel = &g_bench_interrupted;
  // SIGHUP too: a run whose terminal went away keeps its figures, as hir serve drains then.
  signal(SIGINT, on_bench_interrupt);
  signal(SIGTERM, on_bench_interrupt);
  signal(SIGHUP, on_bench_interrupt);
  auto t0 = SteadyClock::now();
  auto results = run_closed_loop(items, lo);
  double wall = to_ms(SteadyClock::now() - t0) / 1000.0;
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  auto s = summarize(results, items);
  std::printf("hir bench: %s%s, %d in flight, %s bodies%s\n%s", opts.url.c_str(), lo.path.c_str(),
              opts.concurrency, opts.json ? "JSON" : "binary",
              g_bench_interrupted ? " (interrupted: the requests sent until then)" : "", format_summary(s, wall).c_str());
  if (!opts.report_path.empty()) {
    FILE* f = std::fopen(opts.report_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "hir bench: cannot write %s\n", opts.report_path.c_str());
      return 1;
    }
    // null for a figure over no answer (as hir report writes it).
    auto ms = [&](double v) { return s.ok ? fmt::format("{:.4f}", v) : std::string("null"); };
    const std::string json = fmt::format(
        "{{\"sent\":{},\"ok\":{},\"rps\":{:.1f},\"p50_ms\":{},\"p95_ms\":{},\"p99_ms\":{},\"mean_ms\":{},"
        "\"accuracy\":{}}}\n",
        s.sent, s.ok, wall > 0 ? static_cast<double>(s.sent) / wall : 0.0, ms(s.p50), ms(s.p95), ms(s.p99), ms(s.mean),
        s.labelled ? fmt::format("{:.4f}", static_cast<double>(s.correct) / static_cast<double>(s.labelled))
                   : std::string("null"));
    std::fputs(json.c_str(), f);
    std::fclose(f);
  }
  if (g_bench_interrupted) return 130;
  return s.ok == s.sent ? 0 : 1;
}

}  // namespace hir::bench
