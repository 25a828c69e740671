#include "hirfw/messages.h"

#include <string.h>

static void w16(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void w32(uint8_t* p, uint32_t v) {
  w16(p, v);
  w16(p + 2, v >> 16);
}
static uint16_t r16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t r32(const uint8_t* p) { return (uint32_t)r16(p) | ((uint32_t)r16(p + 2) << 16); }
static int8_t s8(uint8_t b) { return (int8_t)(b < 128 ? (int)b : (int)b - 256); }

size_t hirfw_result_pack(const hirfw_result_msg* m, uint8_t* out, size_t cap) {
  const size_t n = m->n_logits, need = 2 + n + 9;
  if (n > HIRFW_MAX_OUTPUTS || cap < need) return 0;
  out[0] = m->top_class;
  out[1] = m->n_logits;
  for (size_t i = 0; i < n; ++i) out[2 + i] = (uint8_t)m->logits[i];
  uint32_t scale_bits;
  memcpy(&scale_bits, &m->out_scale, 4);
  w32(out + 2 + n, scale_bits);
  out[6 + n] = (uint8_t)m->out_zp;
  w32(out + 7 + n, m->infer_us);
  return need;
}

hirfw_status hirfw_result_unpack(const uint8_t* p, size_t len, hirfw_result_msg* m) {
  if (len < 2) return HIRFW_ERR_SIZE;
  const size_t n = p[1];
  if (n > HIRFW_MAX_OUTPUTS || len != 2 + n + 9 || p[0] >= n) return HIRFW_ERR_SIZE;
  m->top_class = p[0];
  m->n_logits = p[1];
  for (size_t i = 0; i < n; ++i) m->logits[i] = s8(p[2 + i]);
  const uint32_t scale_bits = r32(p + 2 + n);
  memcpy(&m->out_scale, &scale_bits, 4);
  m->out_zp = s8(p[6 + n]);
  m->infer_us = r32(p + 7 + n);
  return HIRFW_OK;
}

size_t hirfw_error_pack(const hirfw_error_msg* m, uint8_t* out, size_t cap) {
  if (cap < 3) return 0;
  out[0] = m->code;
  w16(out + 1, m->detail);
  return 3;
}

hirfw_status hirfw_error_unpack(const uint8_t* p, size_t len, hirfw_error_msg* m) {
  if (len != 3) return HIRFW_ERR_SIZE;
  m->code = p[0];
  m->detail = r16(p + 1);
  return HIRFW_OK;
}

size_t hirfw_status_pack(const hirfw_status_msg* m, uint8_t* out, size_t cap) {
  if (cap < HIRFW_STATUS_BYTES) return 0;
  out[0] = m->flags;
  w32(out + 1, m->last_infer_us);
  w32(out + 5, m->infer_count);
  w32(out + 9, m->bad_crc);
  w32(out + 13, m->bad_frame);
  w32(out + 17, m->dropped);
  return HIRFW_STATUS_BYTES;
}

hirfw_status hirfw_status_unpack(const uint8_t* p, size_t len, hirfw_status_msg* m) {
  if (len != HIRFW_STATUS_BYTES) return HIRFW_ERR_SIZE;
  m->flags = p[0];
  m->last_infer_us = r32(p + 1);
  m->infer_count = r32(p + 5);
  m->bad_crc = r32(p + 9);
  m->bad_frame = r32(p + 13);
  m->dropped = r32(p + 17);
  return HIRFW_OK;
}

size_t hirfw_info_pack(const hirfw_info_msg* m, uint8_t* out, size_t cap) {
  if (cap < HIRFW_INFO_BYTES) return 0;
  w16(out, m->input_size);
  w16(out + 2, m->output_size);
  out[4] = m->input_encoding;
  w32(out + 5, m->macs);
  w32(out + 9, m->model_crc32);
  w16(out + 13, m->max_payload);
  return HIRFW_INFO_BYTES;
}

hirfw_status hirfw_info_unpack(const uint8_t* p, size_t len, hirfw_info_msg* m) {
  if (len != HIRFW_INFO_BYTES) return HIRFW_ERR_SIZE;
  m->input_size = r16(p);
  m->output_size = r16(p + 2);
  m->input_encoding = p[4];
  m->macs = r32(p + 5);
  m->model_crc32 = r32(p + 9);
  m->max_payload = r16(p + 13);
  return HIRFW_OK;
}
