/* The firmware's request handler: what a board's main loop calls for each decoded frame. It owns
 * the frame decoder (whose counters the STATUS frame reports) and answers INFER, STATUS_REQUEST
 * and INFO_REQUEST. Transport and timing belong to the port (UART driver on a board,
 * hir-mcu-emu on a host): the port feeds received bytes to `dec`, passes each frame to
 * hirfw_device_handle, sends the bytes it returns, and sets `busy` while an inference's result
 * is still pending (a request arriving then is answered ERROR busy, not queued). */
#ifndef HIRFW_DEVICE_H
#define HIRFW_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "hirfw/frame.h"
#include "hirfw/messages.h"
#include "hirfw/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the compute time, in µs, to report for an inference of `macs` multiply-accumulates.
 * A board measures it (e.g. a cycle counter around the call); the emulator models it. */
typedef uint32_t (*hirfw_infer_time_fn)(void* ctx, uint32_t macs);

typedef struct hirfw_device {
  hirfw_model* model;          /* may be NULL: every INFER is answered ERROR no-model */
  hirfw_status model_status;   /* why the model is not usable, for that ERROR's detail */
  hirfw_decoder dec;
  int busy;
  uint32_t last_infer_us, infer_count, dropped;
  hirfw_infer_time_fn infer_time;
  void* infer_time_ctx;
} hirfw_device;

/* model_status is HIRFW_OK when model was initialised successfully. */
void hirfw_device_init(hirfw_device* d, hirfw_model* model, hirfw_status model_status);

/* Handles one decoded frame and writes the reply's wire bytes (00 | COBS | 00) into out
 * (cap >= HIRFW_FRAME_MAX_WIRE). Returns the reply's length; 0 means no reply (a frame type only
 * a device sends, which is counted as dropped). */
size_t hirfw_device_handle(hirfw_device* d, const hirfw_frame* f, uint8_t* out, size_t cap);

/* A STATUS frame with the current counters; id 0 for a heartbeat. */
size_t hirfw_device_status_frame(const hirfw_device* d, uint16_t id, uint8_t* out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
