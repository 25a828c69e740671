// The mcu backend's public value types: pool options, a reply, per-device and per-pool state for
// /v1/targets and metrics, and the load event that feeds the routing core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/mcu_codec.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"
#include "routing/target_state.h"

namespace hir::backends {

// The waiting room of a pool holding at most `max_outstanding` requests with `devices` of them
// up: max_outstanding counts the requests in service too, one per device. At least 1, since a
// queue capacity of 0 reads as "no limit" to the routing core.
inline uint32_t pool_queue_capacity(size_t max_outstanding, size_t devices) {
  return static_cast<uint32_t>(max_outstanding > devices + 1 ? max_outstanding - devices : 1);
}

struct McuPoolOptions {
  std::string name = "mcu";                 // for messages: the target or variant this pool serves
  std::string output_name = kMcuOutputName;  // the response tensor's name
  // The model every device must run (its INFO's model_crc32). Unset: the first device to
  // answer INFO sets it for the pool's life, and a device that runs another model (flashed with
  // another blob of the same sizes) is refused, not served as this pool's variant.
  std::optional<uint32_t> model_crc32;
  // Requests the pool holds at once, in flight and waiting for a free device. Beyond it submit()
  // answers kResourceExhausted. Storage for all of them is allocated once, at create().
  size_t max_outstanding = 32;
  // One try on one device. A try with no reply by then (a lost frame, a reply that failed its
  // CRC) is retried with a new id while the caller's deadline allows, up to max_attempts.
  Duration attempt_timeout = std::chrono::milliseconds(500);
  int max_attempts = 3;
  // Health: the device's heartbeat period (hir-mcu-emu's default). A device silent for one
  // period is asked for STATUS (so devices with the heartbeat off stay checked); one
  // silent for silence_periods periods, or with max_consecutive_timeouts tries in a row
  // unanswered, is marked down and reconnected.
  Duration heartbeat_interval = std::chrono::milliseconds(200);
  int silence_periods = 5;
  int max_consecutive_timeouts = 3;
  // Connecting: TCP connect and the INFO handshake (info_tries INFO_REQUESTs, each waited for
  // handshake_timeout); then reconnection with exponential backoff between the two bounds.
  Duration connect_timeout = std::chrono::seconds(2);
  Duration handshake_timeout = std::chrono::milliseconds(500);
  int info_tries = 3;
  Duration reconnect_min = std::chrono::milliseconds(100);
  Duration reconnect_max = std::chrono::seconds(5);
  // After an ERROR busy (the device still computes an abandoned try), wait this long before
  // sending the request again.
  Duration busy_retry = std::chrono::milliseconds(2);
  // Every device must take this many input bytes (0: learn it from the first INFO; a device
  // whose model takes another size is refused, so one pool serves one model shape).
  size_t expected_input_size = 0;
  // First request id per device (1..65535). Tests start near 65535 to cross the wrap-around.
  uint16_t first_request_id = 1;
};

// A successful inference.
struct McuReply {
  InferResponse response;     // one FP32 [1, n] tensor `output_name`: softmax probabilities
  int top_class = -1;         // the device's argmax; also the probabilities' argmax
  float top_probability = 0;  // the cascade's confidence
  Duration device_time{};     // the device's own compute time (RESULT infer_us)
  Duration latency{};         // submit() to completion, as the pool saw it
  // The device's time on it: from the answering try's INFER frame to its RESULT (the line both
  // ways and the compute; no wait in the pool's queue, no earlier tries).
  Duration occupied{};
  // From the first try's INFER frame to the RESULT: `occupied` plus what earlier tries that
  // timed out or were lost cost (their waits included). What getting an answer from the pool
  // costs once a device has it; the rest of `latency` is the wait in the pool's queue.
  Duration since_first_try{};
  size_t device = 0;          // index of the device that answered (McuPool::create's order)
  int attempts = 0;           // tries it took (1 unless a frame was lost)
};

// Runs exactly once per accepted request, on the pool's I/O thread (see McuPool).
using McuCallback = std::function<void(Result<McuReply>)>;

enum class McuDeviceState : uint8_t { kDown, kConnecting, kHandshake, kUp };
std::string_view device_state_name(McuDeviceState s);

struct McuDeviceCounters {
  uint64_t infers_sent = 0;    // INFER frames written (retries included)
  uint64_t results_ok = 0;     // requests answered by this device
  uint64_t timeouts = 0;       // tries with no matching reply in time
  uint64_t busy_replies = 0;   // ERROR busy
  uint64_t device_errors = 0;  // other ERROR replies
  uint64_t bad_payloads = 0;   // frames with a good CRC but contents that do not parse or agree
  uint64_t stray_replies = 0;  // RESULT/ERROR/INFO for ids nobody waits for (late, unknown): dropped
  uint64_t bad_crc = 0;        // frames from the device dropped for a CRC mismatch
  uint64_t bad_frame = 0;      // frames from the device dropped as malformed (garbage, cut off)
  uint64_t frames_ok = 0;      // good frames from the device
  uint64_t status_frames = 0;  // heartbeats and STATUS replies
  uint64_t connects = 0;       // handshakes completed
  uint64_t disconnects = 0;    // times it was marked down after being reachable
};

struct McuDeviceStats {
  std::string url;
  McuDeviceState state = McuDeviceState::kDown;
  bool in_flight = false;
  std::string last_error;  // why it last went down or failed to connect ("" if never)
  Duration since_last_frame{};  // time since the last good frame (0 if none yet)
  double busy_fraction = 0;
  // From INFO (zero until the first handshake).
  uint16_t input_size = 0, output_size = 0;
  uint32_t model_crc32 = 0, macs = 0;
  std::optional<hirfw_status_msg> last_status;  // the device's own counters
  McuDeviceCounters counters;
};

struct McuPoolStats {
  std::vector<McuDeviceStats> devices;
  size_t pending = 0;    // waiting for a free device
  size_t in_flight = 0;  // on a device now
  uint64_t submitted = 0;  // accepted by submit()
  uint64_t succeeded = 0, failed = 0;  // callbacks run with a reply / with an error
  uint64_t retried = 0;    // tries handed back to the queue (lost frame, busy, lost line)
  uint64_t rejected = 0;   // refused by submit() (bad input, nothing up, full, stopped)
  size_t devices_up() const;
};

// Fired on every STATUS frame (heartbeat or probe reply), on the I/O thread.
struct McuLoadEvent {
  size_t device = 0;
  routing::LoadReport device_report;  // this device alone: concurrency 1, no queue
  routing::LoadReport pool_report;    // the pool as one target: concurrency = devices up,
                                      // queue = the pool's waiting requests
};
using McuLoadCallback = std::function<void(const McuLoadEvent&)>;

// A device came up (handshake done) or went down, on the I/O thread. Fired on transitions only:
// a device that keeps failing to connect reports its first failure and no other until it has
// been up again, so a logger fed from this cannot be flooded by a reconnect loop.
struct McuDeviceEvent {
  size_t device = 0;
  std::string url;
  bool up = false;
  std::string reason;  // why it went down (the device's last_error); "" when up
};
using McuDeviceCallback = std::function<void(const McuDeviceEvent&)>;

}  // namespace hir::backends
