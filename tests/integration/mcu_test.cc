// MCU targets end to end: hir serve drives hir-mcu-emu (the firmware behind a real pseudo-
// terminal, or a TCP serial bridge) next to a cloud hir-worker. The device's expected class is
// the firmware's own int8 model run in-process (the cloud's fp32 model may disagree, legitimately).
// No test asserts a timing: waits are polls with generous limits.
#include <signal.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/loadgen.h"
#include "core/idx.h"
#include "harness.h"
#include "hirfw/model.h"
#include "protocol/v2_codec.h"
#include "store/store.h"

#ifdef HIR_MCU_EMU_BIN

using namespace hir;
using namespace hir::testing;

namespace {

const std::string kBlob = std::string(HIR_SOURCE_DIR) + "/models/fmnist-tiny/int8/model.hirm";

// The firmware's int8 model, in-process: what a device must answer.
class Int8Model {
 public:
  Int8Model() {
    std::ifstream in(kBlob, std::ios::binary);
    blob_.assign(std::istreambuf_iterator<char>(in), {});
    size_t arena = 0;
    ok_ = hirfw_model_check(blob_.data(), blob_.size(), &arena) == HIRFW_OK;
    arena_.resize(arena / 4 + 1);
    ok_ = ok_ && hirfw_model_init(&m_, blob_.data(), blob_.size(), reinterpret_cast<uint8_t*>(arena_.data()),
                                  arena_.size() * 4) == HIRFW_OK;
  }
  bool ok() const { return ok_; }
  int classify(const uint8_t* pixels, size_t n) {
    int8_t logits[16];
    int top = -1;
    if (hirfw_model_invoke(&m_, pixels, n, logits, sizeof logits, &top) != HIRFW_OK) return -2;
    return top;
  }

 private:
  std::vector<uint8_t> blob_;
  std::vector<uint32_t> arena_;  // 4-byte aligned
  hirfw_model m_{};
  bool ok_ = false;
};

// A running emulator: the child and where it is (a pty path or a TCP port).
struct Emu {
  ChildProcess child;
  std::string address;  // serial:///dev/pts/N or tcp://127.0.0.1:PORT
  int port = 0;
};

Result<std::string> wait_for_text_file(const std::string& path, ChildProcess& child) {
  for (int i = 0; i < 300 && child.running(); ++i) {
    std::ifstream in(path);
    std::string s;
    if (in && std::getline(in, s) && !s.empty()) return s;
    usleep(100 * 1000);
  }
  return DeadlineExceeded("no " + path);
}

Emu start_emu(const std::string& dir, const std::string& name, bool tcp, std::vector<std::string> faults = {},
              int port = 0) {
  Emu e;
  std::string file = dir + "/" + name + (tcp ? ".port" : ".path");
  std::filesystem::remove(file);
  std::vector<std::string> argv = {HIR_MCU_EMU_BIN, "--model", kBlob};
  if (tcp) argv.insert(argv.end(), {"--tcp", std::to_string(port), "--port-file", file});
  else argv.insert(argv.end(), {"--path-file", file});
  argv.insert(argv.end(), faults.begin(), faults.end());
  auto c = ChildProcess::spawn(argv, dir + "/" + name + ".log");
  if (!c.ok()) throw std::runtime_error(c.status().message());
  e.child = std::move(*c);
  auto text = wait_for_text_file(file, e.child);
  if (!text.ok()) throw std::runtime_error(name + " did not start; log: " + dir + "/" + name + ".log");
  if (tcp) {
    e.port = std::stoi(*text);
    e.address = "tcp://127.0.0.1:" + *text;
  } else {
    e.address = "serial://" + *text;
  }
  return e;
}

// hir serve with mcu-1 (the cheapest, over `devices`) and cloud-1 (a worker serving `cloud_model`).
Proc start_mcu_router(const std::string& dir, const std::vector<std::string>& devices, int cloud_port,
                      const std::string& cloud_model, const std::string& mcu_extra = "",
                      const std::string& top_yaml = "") {
  std::ofstream cfg(dir + "/router.yaml");
  cfg << top_yaml << "targets:\n  - {name: mcu-1, class: mcu, devices: [";
  for (size_t i = 0; i < devices.size(); ++i) cfg << (i ? ", " : "") << '"' << devices[i] << '"';
  cfg << "], cost_per_request_usd: 0.00000005, timeout_ms: 2000, expected_rtt_ms: 0" << mcu_extra << "}\n"
      << "  - {name: cloud-1, url: \"http://127.0.0.1:" << cloud_port
      << "\", class: cloud, cost_per_request_usd: 0.0002, timeout_ms: 5000}\n"
      << "models:\n  - name: fmnist\n    max_batch_size: 256\n"
         "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
         "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n    variants:\n"
         "      - {name: fmnist-tiny-int8, targets: [mcu-1], accuracy: 0.8577, expected_service_ms: 10.5}\n"
         "      - {name: " << cloud_model << ", targets: [cloud-1], accuracy: 0.9138}\n";
  cfg.close();
  // A ledger of its own in the run folder, so that a test can read what was recorded.
  return start(HIR_BIN, {"serve", "--config", dir + "/router.yaml", "--database", "sqlite://" + dir + "/hir.db"},
               dir, "router");
}

// Polls /v1/targets until `up` MCU devices show as up.
bool wait_devices_up(const Proc& router, size_t up, Duration timeout = std::chrono::seconds(60)) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    std::string body = call(router.port, "GET", "/v1/targets").body;
    size_t n = 0;
    for (size_t at = body.find(R"("state":"up")"); at != std::string::npos; at = body.find(R"("state":"up")", at + 1)) ++n;
    if (n >= up) return true;
    usleep(100 * 1000);
  }
  return false;
}

// Polls POST /v1/route/explain until mcu-1 is the plan's primary: the pool is up and the routing
// core has heard its heartbeat (a pool reports not ready until then).
bool wait_mcu_planned(const Proc& router, Duration timeout = std::chrono::seconds(60)) {
  auto deadline = SteadyClock::now() + timeout;
  net::Headers h;
  h.set("Content-Type", "application/json");
  while (SteadyClock::now() < deadline) {
    std::string body = call(router.port, "POST", "/v1/route/explain",
                            R"({"model":"fmnist","parameters":{"latency_budget_ms":1500}})", h).body;
    if (body.find(R"("steps":[{"target":"mcu-1")") != std::string::npos) return true;
    usleep(100 * 1000);
  }
  return false;
}

struct Answer {
  int status = 0;
  std::string target;
  int predicted = -1;
  double fallbacks = -1;
  std::string body;
};

Answer post(int port, const std::string& path, const bench::LoadItem& item) {
  auto r = call(port, "POST", path, item.body, body_headers(item));
  Answer a;
  a.status = r.status;
  a.body = r.body.substr(0, 400);
  if (r.status != 200) return a;
  auto hl = r.headers.get("inference-header-content-length");
  auto d = protocol::parse_infer_response(r.body, hl ? std::optional<std::string_view>(*hl) : std::nullopt);
  if (!d.ok() || d->outputs.empty()) return a;
  a.target = param_string(d->parameters, "hir_target").value_or("");
  a.fallbacks = param_number(d->parameters, "hir_fallbacks").value_or(-1);
  const std::string& data = d->outputs[0].data;
  float best = -1;
  for (size_t i = 0; i * 4 < data.size(); ++i) {
    float v;
    std::memcpy(&v, data.data() + i * 4, 4);
    if (v > best) {
      best = v;
      a.predicted = static_cast<int>(i);
    }
  }
  return a;
}

// Requests that favour the MCU: cheapest, and a budget it meets.
std::vector<bench::LoadItem> images(size_t n, bool binary, bool hints) {
  auto items = bench::fmnist_test_requests(n, binary, [hints](size_t, InferRequest& r) {
    if (hints) r.parameters["latency_budget_ms"] = 1500.0;
  });
  if (!items.ok()) throw std::runtime_error(items.status().message());
  return std::move(*items);
}

// The device's mcu_device_up / mcu_device_down lines in the router's log, in order: "+" for up,
// "-" for down.
std::string device_moves(const std::string& log) {
  std::string moves;
  std::istringstream lines(file_text(log));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(R"("event":"mcu_device_up")") != std::string::npos) moves += '+';
    if (line.find(R"("event":"mcu_device_down")") != std::string::npos) moves += '-';
  }
  return moves;
}

class McuIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto imgs = read_idx_images(fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz");
    ASSERT_TRUE(imgs.ok()) << imgs.status().message();
    images_ = std::move(*imgs);
    ASSERT_TRUE(int8_.ok()) << "cannot load " << kBlob;
  }
  int expected(size_t i) { return int8_.classify(images_.image(static_cast<int>(i)), images_.image_size()); }

  std::string dir_ = temp_dir();
  IdxImages images_;
  Int8Model int8_;
};

// Two images in one request, with the budget that makes the MCU the plan's first choice: the
// device takes one image per request, so the service skips it and the step behind it serves.
bench::LoadItem image_pair() {
  bench::LoadItem item;
  item.body = R"({"inputs":[{"name":"input","shape":[2,784],"datatype":"FP32","data":[)";
  for (int k = 0; k < 2 * 784; ++k) item.body += k ? ",0" : "0";
  item.body += R"(]}],"parameters":{"latency_budget_ms":1500}})";
  return item;
}

}  // namespace

TEST_F(McuIT, PtyEndToEndAgreesWithTheFirmwareAndMostlyWithTheCloud) {
  Emu emu = start_emu(dir_, "mcu0", false);
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-large"});
  Proc router = start_mcu_router(dir_, {emu.address + "?baud=921600"}, cloud.port, "fmnist-large");
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));

  const size_t n = 200;
  auto via_router = images(n, true, true);
  auto direct = images(n, false, false);
  size_t on_mcu = 0, right = 0, agree = 0, cloud_answers = 0;
  for (size_t i = 0; i < n; ++i) {
    Answer a = post(router.port, "/v2/models/fmnist/infer", via_router[i]);
    ASSERT_EQ(a.status, 200) << a.body;
    if (a.target != "mcu-1") continue;  // routing may send one elsewhere; that is not the MCU's answer
    ++on_mcu;
    right += a.predicted == expected(i);
    Answer c = post(cloud.port, "/v2/models/fmnist-large/infer", direct[i]);
    ASSERT_EQ(c.status, 200) << c.body;
    ++cloud_answers;
    agree += c.predicted == a.predicted;
  }
  double rate = cloud_answers ? static_cast<double>(agree) / static_cast<double>(cloud_answers) : 0;
  std::printf("[ mcu ] %zu of %zu answered by the MCU over a pty; %zu match the int8 firmware; "
              "agreement with the cloud's fmnist-large: %.1f%% (%zu/%zu)\n",
              on_mcu, n, right, 100 * rate, agree, cloud_answers);
  EXPECT_GE(on_mcu, n * 9 / 10);
  EXPECT_EQ(right, on_mcu);  // the device's class is the firmware's, every time
  EXPECT_GE(rate, 0.75);     // most images: int8 tiny and fp32 large are different models

  // JSON in, JSON out; and the answer looks like any other target's.
  auto json = images(1, false, true);
  Answer j = post(router.port, "/v2/models/fmnist/infer", json[0]);
  ASSERT_EQ(j.status, 200) << j.body;
  EXPECT_NE(j.body.find(R"("name":"probabilities")"), std::string::npos) << j.body;
  EXPECT_NE(j.body.find("hir_variant"), std::string::npos);

  // A batch of two does not fit the device: skipped, no failure, answered by the cloud.
  const bench::LoadItem batch = image_pair();
  auto r = call(router.port, "POST", "/v2/models/fmnist/infer", batch.body, body_headers(batch));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("hir_target":"cloud-1")"), std::string::npos) << r.body.substr(0, 300);
  EXPECT_NE(r.body.find(R"("hir_fallbacks":0)"), std::string::npos) << r.body.substr(0, 300);

  std::string targets = call(router.port, "GET", "/v1/targets").body;
  EXPECT_NE(targets.find(R"("devices":[)"), std::string::npos) << targets;
  EXPECT_NE(targets.find(emu.address), std::string::npos) << targets;
  std::string metrics = call(router.port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("hir_mcu_device_up{"), std::string::npos);
  EXPECT_NE(metrics.find("hir_mcu_frame_errors_total{"), std::string::npos);

  // The ledger holds each answer's service time: the MCU's time on the line and the device,
  // which is part of what the request took, and the cloud worker's Server-Timing.
  ::kill(router.child.pid(), SIGTERM);
  ASSERT_EQ(router.child.wait(std::chrono::seconds(60)), 0) << router.log;
  auto db = store::open_store("sqlite://" + dir_ + "/hir.db");
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto rows = (*db)->query_usage({});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  size_t mcu_rows = 0;
  for (const auto& row : *rows) {
    if (row.outcome != "ok") continue;
    EXPECT_GT(row.service_ms, 0) << row.target;
    EXPECT_LE(row.service_ms, row.latency_ms) << row.target;
    mcu_rows += row.target == "mcu-1";
  }
  EXPECT_GE(mcu_rows, on_mcu);
}

TEST_F(McuIT, CorruptedAndDroppedFramesNeverGiveAWrongAnswer) {
  // One device corrupts every 3rd reply, the other drops every 4th request, and both over ptys.
  Emu a = start_emu(dir_, "mcu-corrupt", false, {"--corrupt-every", "3"});
  Emu b = start_emu(dir_, "mcu-drop", false, {"--drop-every", "4"});
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-tiny"});
  Proc router = start_mcu_router(dir_, {a.address, b.address}, cloud.port, "fmnist-tiny",
                                 ", attempt_timeout_ms: 100, max_attempts: 5");
  ASSERT_TRUE(wait_devices_up(router, 2)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));
  const size_t n = 60;
  auto items = images(n, true, true);
  size_t on_mcu = 0;
  for (size_t i = 0; i < n; ++i) {
    Answer ans = post(router.port, "/v2/models/fmnist/infer", items[i]);
    ASSERT_EQ(ans.status, 200) << ans.body;
    if (ans.target != "mcu-1") continue;
    ++on_mcu;
    EXPECT_EQ(ans.predicted, expected(i)) << "image " << i;  // never a wrong answer
  }
  EXPECT_GT(on_mcu, 0u);
  // The faults happened and were counted: CRC failures and unanswered tries.
  std::string metrics = call(router.port, "GET", "/metrics").body;
  auto value = [&](const std::string& kind) {
    double sum = 0;
    std::istringstream lines(metrics);
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with("hir_mcu_frame_errors_total{") && line.find("kind=\"" + kind + "\"") != std::string::npos)
        sum += std::stod(line.substr(line.rfind(' ') + 1));
    return sum;
  };
  EXPECT_GT(value("bad_crc"), 0) << metrics;
  EXPECT_GT(value("timeout"), 0) << metrics;
}

TEST_F(McuIT, KilledEmulatorFallsBackAndARestartBringsItBack) {
  Emu emu = start_emu(dir_, "mcu-tcp", true);
  const int port = emu.port;
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-tiny"});
  Proc router = start_mcu_router(dir_, {emu.address}, cloud.port, "fmnist-tiny");
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));
  auto items = images(50, true, true);
  ASSERT_EQ(post(router.port, "/v2/models/fmnist/infer", items[0]).target, "mcu-1");

  // Kill it while a request is on the line: that request must still be answered (by the cloud).
  Answer during;
  std::thread client([&] { during = post(router.port, "/v2/models/fmnist/infer", items[1]); });
  usleep(3 * 1000);  // most likely mid-request; either way the answer must be 200
  emu.child.stop(std::chrono::seconds(0));
  client.join();
  ASSERT_EQ(during.status, 200) << during.body;
  Answer after = post(router.port, "/v2/models/fmnist/infer", items[2]);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.target, "cloud-1");
  // The one in flight was answered by the device just before the kill, or fell back to the cloud.
  EXPECT_TRUE(during.target == "cloud-1" || during.target == "mcu-1") << during.target;

  // The loss is one warn line, with the device and why. Reconnecting is refused while the
  // emulator is dead (seen in /v1/targets): those failures write no more lines (checked below).
  EXPECT_TRUE(log_gets(router.log, R"("level":"warn","event":"mcu_device_down","service":"hir","target":"mcu-1","device":")" +
                                       emu.address + R"(","reason":")")) << file_text(router.log).substr(0, 3000);
  EXPECT_TRUE(eventually([&] { return call(router.port, "GET", "/v1/targets").body.find("refused") != std::string::npos; }))
      << call(router.port, "GET", "/v1/targets").body;

  // Restarted on the same port: the pool finds it again and the MCU serves once more.
  Emu again = start_emu(dir_, "mcu-tcp2", true, {}, port);
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  // Up, down once, up again: never two downs in a row, however many reconnections failed.
  EXPECT_TRUE(eventually([&] { return device_moves(router.log).ends_with("+-+"); }, 200, 25)) << device_moves(router.log);
  EXPECT_EQ(device_moves(router.log).find("--"), std::string::npos) << device_moves(router.log);
  EXPECT_TRUE(log_gets(router.log, R"("level":"info","event":"mcu_device_up","service":"hir","target":"mcu-1","device":")" +
                                       emu.address + "\"}")) << file_text(router.log).substr(0, 3000);
  ASSERT_TRUE(wait_mcu_planned(router));
  bool back = false;
  for (int i = 0; i < 600 && !back; ++i) {  // the breaker may hold it out for a while: poll
    Answer a = post(router.port, "/v2/models/fmnist/infer", items[3 + i % 40]);
    ASSERT_EQ(a.status, 200) << a.body;
    back = a.target == "mcu-1";
    if (!back) usleep(100 * 1000);
  }
  EXPECT_TRUE(back);
  EXPECT_NE(call(router.port, "GET", "/v1/targets").body.find(R"("state":"up")"), std::string::npos);
}

TEST_F(McuIT, KillingTheEmulatorMidRequestCountsAFallback) {
  // A device that never answers (stalled after 0 requests) holds the request on the line until
  // the kill: the fallback is then certain, and must happen within the request's deadline.
  Emu emu = start_emu(dir_, "mcu-stall", true, {"--stall-after", "1"});
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-tiny"});
  Proc router = start_mcu_router(dir_, {emu.address}, cloud.port, "fmnist-tiny",
                                 ", attempt_timeout_ms: 20000, heartbeat_ms: 20000");
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));
  auto items = images(3, true, true);
  ASSERT_EQ(post(router.port, "/v2/models/fmnist/infer", items[0]).target, "mcu-1");  // the one it answers
  Answer during;
  std::thread client([&] { during = post(router.port, "/v2/models/fmnist/infer", items[1]); });
  usleep(300 * 1000);
  emu.child.stop(std::chrono::seconds(0));
  client.join();
  ASSERT_EQ(during.status, 200) << during.body;  // within the 1.5 s budget, else 504
  EXPECT_EQ(during.target, "cloud-1");
  EXPECT_GE(during.fallbacks, 1);
}

// A plan with an MCU step reads the tensors in the router, and refuses what they hold wrongly:
// counted and logged as every request refused before routing is (it was answered 400 with
// neither).
TEST_F(McuIT, ABadTensorReadForAnMcuIsCountedAndLogged) {
  Emu emu = start_emu(dir_, "mcu-tcp", true);
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-tiny"});
  Proc router = start_mcu_router(dir_, {emu.address}, cloud.port, "fmnist-tiny");
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));
  std::string body = R"({"id":"short-1","parameters":{"latency_budget_ms":1500},"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 783; ++i) body += i ? ",0" : "0";  // one value short of its shape
  body += "]}]}";
  net::Headers h;
  h.set("Content-Type", "application/json");
  auto r = call(router.port, "POST", "/v2/models/fmnist/infer", body, h);
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  const std::string page = call(router.port, "GET", "/metrics").body;
  EXPECT_NE(page.find(R"(hir_requests_total{model="fmnist",outcome="invalid",target="none"} 1)"), std::string::npos) << page;
  EXPECT_TRUE(eventually([&] { return log_gets(router.log, R"("event":"request_invalid")") && log_gets(router.log, R"("client_id":"short-1")"); }));
}

// A hedged request whose input the MCU cannot take (two rows) skips that step without sending
// it: it pays the cloud's answer alone, not the MCU's price for an attempt that never was.
TEST_F(McuIT, AHedgedRequestPaysNothingForAnMcuStepItSkipped) {
  Emu emu = start_emu(dir_, "mcu-tcp", true);
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-tiny"});
  Proc router = start_mcu_router(dir_, {emu.address}, cloud.port, "fmnist-tiny", "",
                                 "server: {threads: 2}\nrouting: {hedge_when_p95_over: 0.01}\n");
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));
  std::string body = R"({"id":"two","parameters":{"priority":"critical","latency_budget_ms":500},"inputs":[{"name":"input","shape":[2,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 2 * 784; ++i) body += i ? ",0" : "0";
  body += "]}]}";
  net::Headers h;
  h.set("Content-Type", "application/json");
  auto r = call(router.port, "POST", "/v2/models/fmnist/infer", body, h);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = decode(r);
  EXPECT_EQ(param_string(d.parameters, "hir_target").value_or(""), "cloud-1");
  EXPECT_NEAR(param_number(d.parameters, "hir_cost_usd").value_or(-1), 0.0002, 1e-12);
}

// The demo's shape: the MCU pool ranks first for every request, and batches of two go to the step
// behind it. Once the edge worker is back after an outage its breaker is half-open, and its probe
// must come from those batches (it ranks before the cloud they reach): a half-open target was
// probed only as a request's first choice, which the MCU always was, so the edge stayed half-open
// for good and every batch of two went to the dearer cloud.
TEST_F(McuIT, ARecoveredEdgeBehindTheMcuIsProbedByTheBatchesItSkips) {
  Emu emu = start_emu(dir_, "mcu-tcp", true);
  Proc edge = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  const int edge_port = edge.port;
  Proc cloud = start_worker(dir_, "cloud", {"--models", "fmnist-large"});
  {
    std::ofstream cfg(dir_ + "/router.yaml");
    cfg << "routing: {breaker_consecutive_failures: 2, breaker_consecutive_span_ms: 0, "
           "breaker_base_ejection_ms: 300}\n"
        << "targets:\n  - {name: mcu-1, class: mcu, devices: [\"" << emu.address
        << "\"], cost_per_request_usd: 0.00000005, timeout_ms: 2000, expected_rtt_ms: 0}\n"
        << "  - {name: edge-1, url: \"http://127.0.0.1:" << edge_port
        << "\", class: edge-cpu, cost_per_request_usd: 0.000001, timeout_ms: 2000}\n"
        << "  - {name: cloud-1, url: \"http://127.0.0.1:" << cloud.port
        << "\", class: cloud, cost_per_request_usd: 0.0002, timeout_ms: 5000}\n"
        << "models:\n  - name: fmnist\n    max_batch_size: 256\n"
           "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
           "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n    variants:\n"
           "      - {name: fmnist-tiny-int8, targets: [mcu-1], accuracy: 0.8577, expected_service_ms: 10.5}\n"
           "      - {name: fmnist-small, targets: [edge-1], accuracy: 0.8962}\n"
           "      - {name: fmnist-large, targets: [cloud-1], accuracy: 0.9138}\n";
  }
  Proc router = start(HIR_BIN, {"serve", "--config", dir_ + "/router.yaml"}, dir_, "router");
  ASSERT_TRUE(wait_devices_up(router, 1)) << call(router.port, "GET", "/v1/targets").body;
  ASSERT_TRUE(wait_mcu_planned(router));
  const bench::LoadItem pair = image_pair();
  Answer a = post(router.port, "/v2/models/fmnist/infer", pair);
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(a.target, "edge-1");

  // The edge goes away: batches fall back to the cloud until the edge's breaker opens.
  edge.child.kill_now();
  for (int i = 0; i < 20 && breaker_of(router, "edge-1") != "open"; ++i) {
    a = post(router.port, "/v2/models/fmnist/infer", pair);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.target, "cloud-1");
  }
  ASSERT_EQ(breaker_of(router, "edge-1"), "open") << call(router.port, "GET", "/v1/targets").body;

  // Back on the same port; once its ejection is over the breaker is half-open.
  Proc back = start_worker(dir_, "edge2", {"--models", "fmnist-small"}, edge_port);
  ASSERT_TRUE(eventually([&] { return breaker_of(router, "edge-1") == "half-open"; }, 200, 50))
      << call(router.port, "GET", "/v1/targets").body;

  int probed_at = -1;
  for (int i = 0; i < 10 && probed_at < 0; ++i) {
    a = post(router.port, "/v2/models/fmnist/infer", pair);
    ASSERT_EQ(a.status, 200) << a.body;
    if (a.target == "edge-1") probed_at = i;
  }
  ASSERT_GE(probed_at, 0) << "no batch of two probed the half-open edge; /v1/targets: "
                          << call(router.port, "GET", "/v1/targets").body;
  EXPECT_EQ(breaker_of(router, "edge-1"), "closed");
  // Closed again, the edge is the step behind the MCU: every later batch of two goes there.
  for (int i = 0; i < 5; ++i) {
    a = post(router.port, "/v2/models/fmnist/infer", pair);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.target, "edge-1");
  }
}

#endif  // HIR_MCU_EMU_BIN
