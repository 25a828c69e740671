/* The serial frame codec (docs/frame-protocol.md). A frame before stuffing is
 *   type u8 | request id u16 LE | payload (0..HIRFW_FRAME_MAX_PAYLOAD bytes) | CRC-16 u16 LE
 * where the CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0; check
 * value 0x29B1 for "123456789") over type, id and payload. On the wire it is COBS-encoded
 * (Cheshire & Baker, "Consistent Overhead Byte Stuffing", IEEE/ACM ToN 1999) and sent between two
 * 0x00 delimiters: 00 | COBS(frame) | 00. The leading delimiter ends any garbage a receiver holds,
 * so a frame is never lost to noise that came before it. */
#ifndef HIRFW_FRAME_H
#define HIRFW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIRFW_FRAME_MAX_PAYLOAD 1024
#define HIRFW_FRAME_OVERHEAD 5 /* type, id, CRC */
#define HIRFW_FRAME_MAX_RAW (HIRFW_FRAME_MAX_PAYLOAD + HIRFW_FRAME_OVERHEAD)
/* COBS adds one byte per 254 data bytes, plus one. */
#define HIRFW_COBS_MAX(n) ((n) + (n) / 254 + 1)
#define HIRFW_FRAME_MAX_ENCODED HIRFW_COBS_MAX(HIRFW_FRAME_MAX_RAW)
#define HIRFW_FRAME_MAX_WIRE (HIRFW_FRAME_MAX_ENCODED + 2)
#define HIRFW_CRC16_INIT 0xFFFFu

/* Frame types: host → device requests are odd-numbered requests; see docs/frame-protocol.md. */
enum {
  HIRFW_T_INFER = 0x01,          /* host → device: uint8 pixels */
  HIRFW_T_RESULT = 0x02,         /* device → host: class, int8 logits, output quantization */
  HIRFW_T_ERROR = 0x03,          /* device → host: code, detail */
  HIRFW_T_STATUS = 0x04,         /* device → host: heartbeat (id 0) or reply to STATUS_REQUEST */
  HIRFW_T_STATUS_REQUEST = 0x05, /* host → device: empty */
  HIRFW_T_INFO_REQUEST = 0x06,   /* host → device: empty */
  HIRFW_T_INFO = 0x07            /* device → host: the loaded model's interface */
};

/* CRC-16/CCITT-FALSE, bitwise. crc is the running value; start with HIRFW_CRC16_INIT. */
uint16_t hirfw_crc16(uint16_t crc, const uint8_t* data, size_t len);

/* COBS-encodes len bytes into out (cap >= HIRFW_COBS_MAX(len)); returns the encoded length,
 * or 0 if cap is too small. The output contains no 0x00. */
size_t hirfw_cobs_encode(const uint8_t* in, size_t len, uint8_t* out, size_t cap);
/* Decodes in place (the result is never longer than the input); returns the decoded length,
 * or -1 if the input is not valid COBS (a 0x00 inside, or a code that runs past the end). */
long hirfw_cobs_decode(uint8_t* buf, size_t len);

/* Writes 00 | COBS(type | id | payload | crc) | 00 into out; returns the bytes written, or 0 if
 * len > HIRFW_FRAME_MAX_PAYLOAD or cap is too small (cap >= HIRFW_FRAME_MAX_WIRE always fits). */
size_t hirfw_frame_encode(uint8_t type, uint16_t id, const uint8_t* payload, size_t len,
                          uint8_t* out, size_t cap);

typedef struct hirfw_frame {
  uint8_t type;
  uint16_t id;
  const uint8_t* payload; /* points into the decoder; valid until its next feed */
  uint16_t len;
} hirfw_frame;

/* Incremental decoder with a fixed buffer: feed it bytes in any chunking. Frames that fail COBS,
 * are shorter than 5 bytes or longer than HIRFW_FRAME_MAX_ENCODED count as bad_frame; a CRC
 * mismatch counts as bad_crc; either way the bytes are dropped and decoding resumes after the
 * next 0x00. Empty frames (two delimiters in a row) are ignored and not counted. */
typedef struct hirfw_decoder {
  uint8_t buf[HIRFW_FRAME_MAX_ENCODED];
  size_t n;
  int overflow;
  uint32_t frames_ok, bad_crc, bad_frame;
} hirfw_decoder;

void hirfw_decoder_init(hirfw_decoder* d);

/* Consumes bytes until one frame completes or the input runs out; returns the bytes consumed.
 * When a frame completed, *got = 1 and *frame describes it; otherwise *got = 0. Call again with
 * the rest of the input until it is all consumed. */
size_t hirfw_decoder_feed(hirfw_decoder* d, const uint8_t* data, size_t len, hirfw_frame* frame,
                          int* got);

#ifdef __cplusplus
}
#endif

#endif
