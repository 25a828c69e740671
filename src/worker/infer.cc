// POST /v2/models/{m}[/versions/{v}]/infer: parse and validate on the io thread, run and encode on
// an inference thread.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>

#include "protocol/v2_codec.h"
#include "telemetry/log.h"
#include "telemetry/trace.h"
#include "worker/fp32_wire.h"
#include "worker/handler.h"

namespace hir::worker {

struct WorkerHandler::InferJob {
  std::string model;  // as the client named it (for logs), then the served name
  std::string request_id;
  std::string traceparent;
  net::Responder respond;
  TimePoint received;
  TimePoint enqueued;
  TimePoint started;  // on the inference thread
  // From the caller's x-hir-timeout-ms: past this, nobody waits for the answer (the router has
  // given up on the attempt), so a request still queued then is not run.
  std::optional<TimePoint> expires;

  // Set once the request has parsed.
  InferRequest req;
  ServedVersion served;
  int64_t batch = 0;
  int features = 0;
  bool all_raw = false;  // a raw binary request gets raw outputs (shared/protocol-v2.md §3)
};

namespace {

// The request id goes back in a header only when it can: a body "id" may hold anything.
void set_request_id(net::HttpResponse& r, const std::string& id) {
  for (char c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return;
  r.headers.set("x-request-id", id);
}

net::HttpResponse encoded_response(protocol::Encoded e) {
  net::HttpResponse r;
  r.status = 200;
  if (e.json_length) {
    r.headers.set("Inference-Header-Content-Length", std::to_string(*e.json_length));
    r.headers.set("Content-Type", "application/octet-stream");
  } else {
    r.headers.set("Content-Type", "application/json");
  }
  r.body = std::move(e.body);
  return r;
}

}  // namespace

void WorkerHandler::fail(const InferJob& job, const Status& status,
                         const net::Responder& respond) {
  const int code = http_status(status.code());
  const bool queue_full = status.code() == Code::kResourceExhausted;
  metrics_.count(job.served.model ? job.model : std::string_view(), outcome_of(code, queue_full));
  net::HttpResponse r = net::error_response(code, status.message());
  if (code == 503) r.headers.set("Retry-After", "1");
  set_request_id(r, job.request_id);
  telemetry::log(code >= 500 ? telemetry::Level::kWarn : telemetry::Level::kInfo, "infer_failed",
                 {{"request_id", job.request_id},
                  {"traceparent", job.traceparent},
                  {"model", job.model},
                  {"status", code},
                  {"error", status.message()}});
  respond(std::move(r));
}

void WorkerHandler::infer(const std::string& model, const std::string& version,
                          net::HttpRequest&& http, net::Responder respond) {
  auto job = std::make_shared<InferJob>();
  job->received = clock_.now();
  job->model = model;
  const auto tp = http.headers.get("traceparent");
  job->traceparent = (tp && telemetry::TraceContext::parse(*tp))
                         ? std::string(*tp)
                         : telemetry::TraceContext::new_header();
  // The request id: x-request-id when it can travel back as the answer's header
  // (usable_request_id), else a new one. Never the body's "id" (echoed in the body): clients
  // reuse those, and the router's x-request-id must name the request here as in its own logs.
  const auto header_id = http.headers.get("x-request-id");
  job->request_id = header_id && telemetry::usable_request_id(*header_id) ? std::string(*header_id)
                                                                          : telemetry::new_request_id();

  auto served = catalog_.find(model, version);
  if (!served.ok()) return fail(*job, served.status(), respond);
  job->served = *served;
  const RepositoryModel& rm = *job->served.model;
  if (catalog_.state(job->served.slot) != VersionState::kReady)
    return fail(*job,
                Unavailable("model '" + model + "' version " + job->served.version_name +
                            " is not ready"),
                respond);

  const ModelSignature& sig = rm.signature;
  const auto header_len = http.headers.get("Inference-Header-Content-Length");
  job->all_raw = protocol::is_raw_binary(header_len);
  Result<InferRequest> parsed = job->all_raw
                                    ? protocol::parse_raw_binary_request(http.body, sig)
                                    : protocol::parse_infer_request(http.body, header_len);
  if (!parsed.ok()) return fail(*job, parsed.status(), respond);
  job->req = std::move(*parsed);
  http.body = std::string();  // the tensors now live in job->req; free the body early
  job->req.model_name = rm.config.name;
  job->req.model_version = job->served.version_name;

  Status valid = validate_request(job->req, sig);
  if (!valid.ok()) return fail(*job, valid, respond);
  job->batch = batch_of(rm.config, job->req.inputs[0].shape);
  job->features = row_layout(rm.config).features;
  if (job->batch < 1)
    return fail(*job, InvalidArgument("inference request batch-size must be >= 1"), respond);

  if (auto t = http.headers.get("x-hir-timeout-ms")) {
    // Whole or fractional milliseconds, up to an hour; anything else is ignored, as a header this
    // worker did not ask for should be.
    double ms = 0;
    const auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), ms);
    if (ec == std::errc() && end == t->data() + t->size() && ms > 0 && ms <= 3'600'000)
      job->expires = job->received + from_ms(ms);
  }
  job->respond = std::move(respond);
  job->enqueued = clock_.now();
  Status queued = executor_.submit(job->served.slot,
                                   [this, job](BatchModel* engine) { return run_job(job, engine); });
  if (!queued.ok()) {
    net::Responder r = std::move(job->respond);
    fail(*job, queued, r);
  }
}

Delivery WorkerHandler::run_job(const std::shared_ptr<InferJob>& job, BatchModel* engine) {
  const TimePoint start = job->started = clock_.now();
  auto failed = [this, job](Status s) -> Delivery {
    return [this, job, s = std::move(s)] { fail(*job, s, job->respond); };
  };
  if (engine == nullptr)
    return failed(Unavailable("model '" + job->model + "' version " +
                              job->served.version_name + " failed to load"));
  // Its caller stopped waiting while it was queued (a stall, a burst): running it now would only
  // delay the requests behind it, whose callers still wait.
  if (job->expires && start > *job->expires)
    return failed(DeadlineExceeded("not run: the request waited " + std::to_string(std::lround(to_ms(start - job->received))) +
                                   " ms, past its x-hir-timeout-ms"));
  const RepositoryModel& rm = *job->served.model;
  std::vector<float> scratch;
  const float* input = fp32_view(job->req.inputs[0].data, scratch);
  Result<std::vector<float>> out = engine->run(input, static_cast<int>(job->batch), job->features);
  const TimePoint ran = clock_.now();
  job->req.inputs.clear();  // the input bytes are spent; free them before encoding
  if (!out.ok()) return failed(Internal("inference failed: " + out.status().message()));
  const size_t expected = static_cast<size_t>(job->batch) * static_cast<size_t>(engine->output_size());
  if (out->size() != expected)
    return failed(Internal("the model returned " + std::to_string(out->size()) +
                           " values for a batch that needs " + std::to_string(expected)));
  metrics_.observe_run(rm.config.name, job->batch, start - job->enqueued, ran - start);

  // One output today; the request may have named it, or asked for all by naming none.
  InferResponse resp;
  resp.id = job->req.id;
  resp.model_name = rm.config.name;
  resp.model_version = job->served.version_name;
  const TensorSpec& spec = rm.config.outputs[0];
  Tensor t;
  t.name = spec.name;
  t.datatype = DataType::kFp32;
  t.shape = output_shape(rm.config, job->batch);
  t.data = fp32_to_wire(*out);
  resp.outputs.push_back(std::move(t));
  resp.binary.push_back(job->all_raw || job->req.wants_binary(spec.name));
  net::HttpResponse http = encoded_response(protocol::encode_infer_response(resp));
  set_request_id(http, job->request_id);
  // W3C Server-Timing: the router subtracts both from the call's latency to learn the network's
  // share, and learns the service time from `infer` (docs/worker.md).
  char timing[96];
  std::snprintf(timing, sizeof timing, "queue;dur=%.3f, infer;dur=%.3f", to_ms(start - job->enqueued),
                to_ms(ran - start));
  http.headers.set("Server-Timing", timing);

  return [this, job, http = std::move(http)]() mutable {
    const TimePoint done = clock_.now();
    const std::string& name = job->served.model->config.name;
    metrics_.count(name, Outcome::kOk);
    metrics_.observe_request(name, done - job->received);
    if (telemetry::log_enabled(telemetry::Level::kInfo))
      telemetry::log_info("infer", {{"request_id", job->request_id},
                                    {"traceparent", job->traceparent},
                                    {"model", name},
                                    {"version", job->served.version_name},
                                    {"status", 200},
                                    {"batch", job->batch},
                                    {"queue_ms", to_ms(job->started - job->enqueued)},
                                    {"total_ms", to_ms(done - job->received)}});
    job->respond(std::move(http));
  };
}

}  // namespace hir::worker
