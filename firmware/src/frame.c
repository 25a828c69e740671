#include "hirfw/frame.h"

#include <string.h>

uint16_t hirfw_crc16(uint16_t crc, const uint8_t* data, size_t len) {
  /* CRC-16/CCITT-FALSE (Williams' Rocksoft model: width 16, poly 0x1021, refin/refout false). */
  for (size_t i = 0; i < len; ++i) {
    crc ^= (uint16_t)(data[i] << 8);
    for (int b = 0; b < 8; ++b)
      crc = (uint16_t)((crc & 0x8000u) ? ((unsigned)crc << 1) ^ 0x1021u : ((unsigned)crc << 1));
  }
  return crc;
}

/* Streaming COBS encoder: each block starts with a code byte = 1 + the count of non-zero bytes
 * that follow it; a zero ends a block, and so does a run of 254 non-zero bytes (code 0xFF, no
 * implied zero). */
typedef struct cobs_enc {
  uint8_t* out;
  size_t cap, n, code_at;
  uint8_t code;
  int full;
  int pending; /* a 0xFF block just closed; the next block starts only if more bytes come */
} cobs_enc;

static void enc_put(cobs_enc* e, uint8_t b) {
  if (e->n < e->cap) e->out[e->n] = b;
  else e->full = 1;
  e->n++;
}
static void enc_start(cobs_enc* e) {
  e->pending = 0;
  e->code_at = e->n;
  e->code = 1;
  enc_put(e, 0); /* placeholder for the code byte */
}
static void enc_close(cobs_enc* e) {
  if (!e->pending && e->code_at < e->cap) e->out[e->code_at] = e->code;
}
static void enc_byte(cobs_enc* e, uint8_t b) {
  if (e->pending) enc_start(e);
  if (b == 0) {
    enc_close(e);
    enc_start(e);
    return;
  }
  enc_put(e, b);
  if (++e->code == 0xFF) {
    enc_close(e);
    e->pending = 1; /* canonical COBS: no empty block after a full one at the end */
  }
}

size_t hirfw_cobs_encode(const uint8_t* in, size_t len, uint8_t* out, size_t cap) {
  cobs_enc e = {out, cap, 0, 0, 1, 0, 0};
  enc_start(&e);
  for (size_t i = 0; i < len; ++i) enc_byte(&e, in[i]);
  enc_close(&e);
  return e.full ? 0 : e.n;
}

long hirfw_cobs_decode(uint8_t* buf, size_t len) {
  size_t r = 0, w = 0;
  while (r < len) {
    const uint8_t code = buf[r++];
    if (code == 0) return -1;
    if ((size_t)(code - 1) > len - r) return -1;
    for (uint8_t k = 1; k < code; ++k) {
      if (buf[r] == 0) return -1;
      buf[w++] = buf[r++];
    }
    /* A block shorter than 254 data bytes stands for a trailing zero, except at the very end. */
    if (code != 0xFF && r < len) buf[w++] = 0;
  }
  return (long)w;
}

size_t hirfw_frame_encode(uint8_t type, uint16_t id, const uint8_t* payload, size_t len,
                          uint8_t* out, size_t cap) {
  if (len > HIRFW_FRAME_MAX_PAYLOAD || (len > 0 && !payload) || !out || cap < 2) return 0;
  const uint8_t head[3] = {type, (uint8_t)(id & 0xFF), (uint8_t)(id >> 8)};
  uint16_t crc = hirfw_crc16(HIRFW_CRC16_INIT, head, 3);
  if (len > 0) crc = hirfw_crc16(crc, payload, len);
  const uint8_t tail[2] = {(uint8_t)(crc & 0xFF), (uint8_t)(crc >> 8)};
  out[0] = 0x00;
  cobs_enc e = {out + 1, cap - 2, 0, 0, 1, 0, 0};
  enc_start(&e);
  for (size_t i = 0; i < 3; ++i) enc_byte(&e, head[i]);
  for (size_t i = 0; i < len; ++i) enc_byte(&e, payload[i]);
  for (size_t i = 0; i < 2; ++i) enc_byte(&e, tail[i]);
  enc_close(&e);
  if (e.full) return 0;
  out[1 + e.n] = 0x00;
  return e.n + 2;
}

void hirfw_decoder_init(hirfw_decoder* d) { memset(d, 0, sizeof *d); }

/* Called at a delimiter: validates the buffered bytes; returns 1 if they were a good frame. */
static int finish(hirfw_decoder* d, hirfw_frame* f) {
  const size_t n = d->n;
  const int overflow = d->overflow;
  d->n = 0;
  d->overflow = 0;
  if (overflow) {
    d->bad_frame++;
    return 0;
  }
  if (n == 0) return 0;
  const long raw = hirfw_cobs_decode(d->buf, n);
  if (raw < HIRFW_FRAME_OVERHEAD || raw > HIRFW_FRAME_MAX_RAW) {
    d->bad_frame++;
    return 0;
  }
  const size_t body = (size_t)raw - 2;
  const uint16_t want = (uint16_t)(d->buf[body] | (d->buf[body + 1] << 8));
  if (hirfw_crc16(HIRFW_CRC16_INIT, d->buf, body) != want) {
    d->bad_crc++;
    return 0;
  }
  f->type = d->buf[0];
  f->id = (uint16_t)(d->buf[1] | (d->buf[2] << 8));
  f->payload = d->buf + 3;
  f->len = (uint16_t)(body - 3);
  d->frames_ok++;
  return 1;
}

size_t hirfw_decoder_feed(hirfw_decoder* d, const uint8_t* data, size_t len, hirfw_frame* frame,
                          int* got) {
  *got = 0;
  for (size_t i = 0; i < len; ++i) {
    const uint8_t b = data[i];
    if (b == 0x00) {
      if (finish(d, frame)) {
        *got = 1;
        return i + 1;
      }
    } else if (!d->overflow) {
      if (d->n < sizeof d->buf) d->buf[d->n++] = b;
      else d->overflow = 1; /* drop the rest of this frame up to its delimiter */
    }
  }
  return len;
}
