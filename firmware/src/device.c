#include "hirfw/device.h"

#include <string.h>

void hirfw_device_init(hirfw_device* d, hirfw_model* model, hirfw_status model_status) {
  memset(d, 0, sizeof *d);
  d->model = model;
  d->model_status = model ? model_status : HIRFW_ERR_NULL;
  hirfw_decoder_init(&d->dec);
}

static size_t error_frame(uint16_t id, uint8_t code, uint16_t detail, uint8_t* out, size_t cap) {
  const hirfw_error_msg e = {code, detail};
  uint8_t p[3];
  hirfw_error_pack(&e, p, sizeof p);
  return hirfw_frame_encode(HIRFW_T_ERROR, id, p, sizeof p, out, cap);
}

static int model_ready(const hirfw_device* d) {
  return d->model != NULL && d->model_status == HIRFW_OK;
}

size_t hirfw_device_status_frame(const hirfw_device* d, uint16_t id, uint8_t* out, size_t cap) {
  hirfw_status_msg s;
  s.flags = (uint8_t)((d->busy ? HIRFW_STATUS_BUSY : 0u) |
                      (model_ready(d) ? HIRFW_STATUS_MODEL_READY : 0u));
  s.last_infer_us = d->last_infer_us;
  s.infer_count = d->infer_count;
  s.bad_crc = d->dec.bad_crc;
  s.bad_frame = d->dec.bad_frame;
  s.dropped = d->dropped;
  uint8_t p[HIRFW_STATUS_BYTES];
  hirfw_status_pack(&s, p, sizeof p);
  return hirfw_frame_encode(HIRFW_T_STATUS, id, p, sizeof p, out, cap);
}

static size_t infer(hirfw_device* d, const hirfw_frame* f, uint8_t* out, size_t cap) {
  if (d->busy) {
    d->dropped++;
    return error_frame(f->id, HIRFW_E_BUSY, 0, out, cap);
  }
  if (!model_ready(d)) return error_frame(f->id, HIRFW_E_NO_MODEL, (uint16_t)d->model_status, out, cap);
  if (f->len != (size_t)d->model->input_size)
    return error_frame(f->id, HIRFW_E_BAD_INPUT, (uint16_t)d->model->input_size, out, cap);
  hirfw_result_msg r;
  int top = 0;
  const hirfw_status s =
      hirfw_model_invoke(d->model, f->payload, f->len, r.logits, sizeof r.logits, &top);
  if (s != HIRFW_OK) return error_frame(f->id, HIRFW_E_NO_MODEL, (uint16_t)s, out, cap);
  int32_t zp;
  hirfw_model_output_quant(d->model, &r.out_scale, &zp);
  r.top_class = (uint8_t)top;
  r.n_logits = (uint8_t)d->model->output_size;
  r.out_zp = (int8_t)zp;
  r.infer_us = d->infer_time ? d->infer_time(d->infer_time_ctx, d->model->macs) : 0;
  d->last_infer_us = r.infer_us;
  d->infer_count++;
  uint8_t p[2 + HIRFW_MAX_OUTPUTS + 9];
  const size_t n = hirfw_result_pack(&r, p, sizeof p);
  return hirfw_frame_encode(HIRFW_T_RESULT, f->id, p, n, out, cap);
}

static size_t info(const hirfw_device* d, uint16_t id, uint8_t* out, size_t cap) {
  hirfw_info_msg m;
  memset(&m, 0, sizeof m);
  if (model_ready(d)) {
    m.input_size = (uint16_t)d->model->input_size;
    m.output_size = (uint16_t)d->model->output_size;
    m.macs = d->model->macs;
    m.model_crc32 = d->model->blob_crc32;
  }
  m.input_encoding = HIRFW_INPUT_U8_PIXELS;
  m.max_payload = HIRFW_FRAME_MAX_PAYLOAD;
  uint8_t p[HIRFW_INFO_BYTES];
  hirfw_info_pack(&m, p, sizeof p);
  return hirfw_frame_encode(HIRFW_T_INFO, id, p, sizeof p, out, cap);
}

size_t hirfw_device_handle(hirfw_device* d, const hirfw_frame* f, uint8_t* out, size_t cap) {
  switch (f->type) {
    case HIRFW_T_INFER:
      return infer(d, f, out, cap);
    case HIRFW_T_STATUS_REQUEST:
    case HIRFW_T_INFO_REQUEST:
      if (f->len != 0) return error_frame(f->id, HIRFW_E_BAD_LENGTH, f->len, out, cap);
      return f->type == HIRFW_T_INFO_REQUEST ? info(d, f->id, out, cap)
                                             : hirfw_device_status_frame(d, f->id, out, cap);
    case HIRFW_T_RESULT:
    case HIRFW_T_ERROR:
    case HIRFW_T_STATUS:
    case HIRFW_T_INFO:
      d->dropped++; /* a device's own frame echoed back: nothing to answer */
      return 0;
    default:
      return error_frame(f->id, HIRFW_E_UNKNOWN_TYPE, f->type, out, cap);
  }
}
