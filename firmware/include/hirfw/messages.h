/* Payloads of the frame types (docs/frame-protocol.md): plain structs and their little-endian
 * byte layouts. pack functions return the bytes written (0 if cap is too small); unpack
 * functions return HIRFW_OK or HIRFW_ERR_SIZE when the length does not match the layout. */
#ifndef HIRFW_MESSAGES_H
#define HIRFW_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "hirfw/model.h"
#include "hirfw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ERROR codes. */
enum {
  HIRFW_E_BUSY = 1,         /* an inference is running; the request was not queued */
  HIRFW_E_BAD_INPUT = 2,    /* INFER payload length != model input size; detail = expected */
  HIRFW_E_NO_MODEL = 3,     /* no valid model loaded; detail = its hirfw_status */
  HIRFW_E_UNKNOWN_TYPE = 4, /* the device does not accept this frame type; detail = type */
  HIRFW_E_BAD_LENGTH = 5    /* a request that must be empty had a payload; detail = length */
};

/* STATUS flags. */
#define HIRFW_STATUS_BUSY 0x01u
#define HIRFW_STATUS_MODEL_READY 0x02u

typedef struct hirfw_result_msg {
  uint8_t top_class;
  uint8_t n_logits;                 /* <= HIRFW_MAX_OUTPUTS */
  int8_t logits[HIRFW_MAX_OUTPUTS];
  float out_scale;                  /* logit real value = out_scale * (q - out_zp) */
  int8_t out_zp;
  uint32_t infer_us;                /* the device's compute time for this request */
} hirfw_result_msg;                 /* wire: 2 + n_logits + 9 bytes */

typedef struct hirfw_error_msg {
  uint8_t code;
  uint16_t detail;
} hirfw_error_msg;                  /* wire: 3 bytes */

typedef struct hirfw_status_msg {
  uint8_t flags;                    /* HIRFW_STATUS_* */
  uint32_t last_infer_us;
  uint32_t infer_count;
  uint32_t bad_crc, bad_frame, dropped;
} hirfw_status_msg;                 /* wire: 21 bytes */
#define HIRFW_STATUS_BYTES 21

typedef struct hirfw_info_msg {
  uint16_t input_size;
  uint16_t output_size;
  uint8_t input_encoding;           /* HIRFW_INPUT_U8_PIXELS */
  uint32_t macs;
  uint32_t model_crc32;
  uint16_t max_payload;
} hirfw_info_msg;                   /* wire: 15 bytes */
#define HIRFW_INFO_BYTES 15

size_t hirfw_result_pack(const hirfw_result_msg* m, uint8_t* out, size_t cap);
hirfw_status hirfw_result_unpack(const uint8_t* p, size_t len, hirfw_result_msg* m);
size_t hirfw_error_pack(const hirfw_error_msg* m, uint8_t* out, size_t cap);
hirfw_status hirfw_error_unpack(const uint8_t* p, size_t len, hirfw_error_msg* m);
size_t hirfw_status_pack(const hirfw_status_msg* m, uint8_t* out, size_t cap);
hirfw_status hirfw_status_unpack(const uint8_t* p, size_t len, hirfw_status_msg* m);
size_t hirfw_info_pack(const hirfw_info_msg* m, uint8_t* out, size_t cap);
hirfw_status hirfw_info_unpack(const uint8_t* p, size_t len, hirfw_info_msg* m);

#ifdef __cplusplus
}
#endif

#endif
