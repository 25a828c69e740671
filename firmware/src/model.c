/* Model blob parsing and validation (docs/model-blob.md) and the inference loop. Every field is
 * read byte by byte as little-endian, so neither the host's endianness nor the blob's alignment
 * matters; every size is checked before any pointer into the blob is formed. */
#include "hirfw/model.h"

#include <string.h>

#include "hirfw/quant.h"

static uint32_t rd16(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static float rdf32(const uint8_t* p) {
  const uint32_t u = rd32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static int32_t rdi8(const uint8_t* p) { return p[0] < 128 ? (int32_t)p[0] : (int32_t)p[0] - 256; }
static size_t align4(size_t n) { return (n + 3u) & ~(size_t)3u; }

uint32_t hirfw_crc32(uint32_t crc, const uint8_t* data, size_t len) {
  /* Bitwise form: no 1 KB table in flash for a check that runs once at load. */
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static size_t layer_data_bytes(uint32_t in_n, uint32_t out_n) {
  /* weights, padding to 4, then bias, multiplier, shift and weight scale: 4 bytes each. */
  return align4((size_t)in_n * out_n) + 16u * out_n;
}

/* Checks one layer table entry against the blob and the previous layer; fills *l. */
static hirfw_status parse_layer(const uint8_t* blob, size_t len, const uint8_t* e,
                                int32_t expect_in_n, int32_t expect_in_zp, hirfw_layer* l) {
  if (e[0] != HIRFW_LAYER_FULLY_CONNECTED) return HIRFW_ERR_LAYER;
  if (e[1] != HIRFW_ACT_NONE && e[1] != HIRFW_ACT_RELU) return HIRFW_ERR_LAYER;
  const uint32_t in_n = rd16(e + 2), out_n = rd16(e + 4);
  if (in_n == 0 || out_n == 0 || in_n > HIRFW_MAX_FEATURES || out_n > HIRFW_MAX_FEATURES)
    return HIRFW_ERR_SHAPE;
  if ((int32_t)in_n != expect_in_n) return HIRFW_ERR_SHAPE;
  const int32_t in_zp = rdi8(e + 6), out_zp = rdi8(e + 7);
  if (in_zp != expect_in_zp) return HIRFW_ERR_QUANT;
  const uint32_t off = rd32(e + 16), bytes = rd32(e + 20);
  const size_t table_end = HIRFW_BLOB_HEADER_BYTES + (size_t)rd16(blob + 16) * HIRFW_BLOB_LAYER_BYTES;
  if (off % 4 != 0 || off < table_end || off > len || bytes > len - off) return HIRFW_ERR_LAYER;
  if (bytes != layer_data_bytes(in_n, out_n)) return HIRFW_ERR_LAYER;
  const uint8_t* d = blob + off;
  const size_t wbytes = align4((size_t)in_n * out_n);
  l->fc.in_n = (int32_t)in_n;
  l->fc.out_n = (int32_t)out_n;
  l->fc.in_zp = in_zp;
  l->fc.out_zp = out_zp;
  /* TFLite CalculateActivationRange: ReLU clamps at the quantized real zero. */
  l->fc.act_min = e[1] == HIRFW_ACT_RELU && out_zp > -128 ? out_zp : -128;
  l->fc.act_max = 127;
  l->fc.weights = (const int8_t*)d;
  l->fc.bias = d + wbytes;
  l->fc.mult = d + wbytes + 4u * out_n;
  l->fc.shift = d + wbytes + 8u * out_n;
  l->activation = e[1];
  l->in_scale = rdf32(e + 8);
  l->out_scale = rdf32(e + 12);
  if (!(l->out_scale > 0.0f) || !(l->in_scale > 0.0f)) return HIRFW_ERR_QUANT;
  for (uint32_t c = 0; c < out_n; ++c) {
    /* Bounds that keep every accumulator inside int32 (see hirfw_fc_fold_bias). */
    const int32_t bias = hirfw_load_le32(l->fc.bias + 4 * c);
    const int32_t mult = hirfw_load_le32(l->fc.mult + 4 * c);
    const int32_t shift = hirfw_load_le32(l->fc.shift + 4 * c);
    if (bias > (1 << 30) || bias < -(1 << 30)) return HIRFW_ERR_QUANT;
    if (mult < 0 || shift < HIRFW_SHIFT_MIN || shift > HIRFW_SHIFT_MAX) return HIRFW_ERR_QUANT;
  }
  l->folded_bias = NULL;
  return HIRFW_OK;
}

/* Arena layout: activation k (k = 0 the input, k = i + 1 the output of layer i) lives in
 * buffer k % 2; each buffer is as large as the largest activation it holds, rounded to 4;
 * then one int32 folded bias per output channel of every layer. */
static void arena_plan(const hirfw_model* m, size_t* buf0, size_t* buf1, size_t* total) {
  size_t b[2] = {(size_t)m->input_size, 0};
  size_t biases = 0;
  for (int i = 0; i < m->n_layers; ++i) {
    const size_t out = (size_t)m->layers[i].fc.out_n;
    if (out > b[(i + 1) % 2]) b[(i + 1) % 2] = out;
    biases += 4u * out;
  }
  *buf0 = align4(b[0]);
  *buf1 = align4(b[1]);
  *total = *buf0 + *buf1 + biases;
}

static hirfw_status parse(hirfw_model* m, const uint8_t* blob, size_t len, size_t* arena_bytes) {
  if (!blob || !m) return HIRFW_ERR_NULL;
  if (len < HIRFW_BLOB_HEADER_BYTES) return HIRFW_ERR_TRUNCATED;
  if (memcmp(blob, HIRFW_BLOB_MAGIC, 4) != 0) return HIRFW_ERR_MAGIC;
  if (rd16(blob + 4) != HIRFW_BLOB_VERSION) return HIRFW_ERR_VERSION;
  if (rd16(blob + 6) != HIRFW_BLOB_HEADER_BYTES) return HIRFW_ERR_SIZE;
  if (rd32(blob + 8) != len) return len < rd32(blob + 8) ? HIRFW_ERR_TRUNCATED : HIRFW_ERR_SIZE;
  if (hirfw_crc32(0, blob + 16, len - 16) != rd32(blob + 12)) return HIRFW_ERR_CRC;
  const uint32_t n_layers = rd16(blob + 16);
  if (n_layers == 0 || n_layers > HIRFW_MAX_LAYERS) return HIRFW_ERR_SHAPE;
  if (len < HIRFW_BLOB_HEADER_BYTES + n_layers * HIRFW_BLOB_LAYER_BYTES) return HIRFW_ERR_TRUNCATED;
  m->n_layers = (int)n_layers;
  m->input_size = (int)rd16(blob + 18);
  m->output_size = (int)rd16(blob + 20);
  if (blob[22] != HIRFW_INPUT_U8_PIXELS) return HIRFW_ERR_QUANT;
  if (m->output_size == 0 || m->output_size > HIRFW_MAX_OUTPUTS) return HIRFW_ERR_SHAPE;
  m->blob_crc32 = rd32(blob + 12);
  m->macs = 0;
  int32_t in_n = m->input_size, in_zp = -128; /* q = pixel - 128 */
  for (uint32_t i = 0; i < n_layers; ++i) {
    const uint8_t* e = blob + HIRFW_BLOB_HEADER_BYTES + i * HIRFW_BLOB_LAYER_BYTES;
    const hirfw_status s = parse_layer(blob, len, e, in_n, in_zp, &m->layers[i]);
    if (s != HIRFW_OK) return s;
    in_n = m->layers[i].fc.out_n;
    in_zp = m->layers[i].fc.out_zp;
    m->macs += (uint32_t)m->layers[i].fc.in_n * (uint32_t)m->layers[i].fc.out_n;
  }
  if (in_n != m->output_size) return HIRFW_ERR_SHAPE;
  size_t b0, b1;
  arena_plan(m, &b0, &b1, arena_bytes);
  if (*arena_bytes != rd32(blob + 28)) return HIRFW_ERR_SIZE;
  return HIRFW_OK;
}

hirfw_status hirfw_model_check(const uint8_t* blob, size_t blob_len, size_t* arena_bytes) {
  hirfw_model scratch;
  size_t need = 0;
  const hirfw_status s = parse(&scratch, blob, blob_len, &need);
  if (arena_bytes) *arena_bytes = s == HIRFW_OK ? need : 0;
  return s;
}

hirfw_status hirfw_model_init(hirfw_model* m, const uint8_t* blob, size_t blob_len,
                              uint8_t* arena, size_t arena_len) {
  if (!m || !arena) return HIRFW_ERR_NULL;
  m->n_layers = 0;
  size_t need = 0;
  const hirfw_status s = parse(m, blob, blob_len, &need);
  if (s != HIRFW_OK) {
    m->n_layers = 0;
    return s;
  }
  if (((uintptr_t)arena % 4) != 0 || arena_len < need) {
    m->n_layers = 0;
    return HIRFW_ERR_ARENA;
  }
  size_t b0, b1, total;
  arena_plan(m, &b0, &b1, &total);
  m->act[0] = (int8_t*)arena;
  m->act[1] = (int8_t*)(arena + b0);
  int32_t* bias = (int32_t*)(void*)(arena + b0 + b1);
  for (int i = 0; i < m->n_layers; ++i) {
    m->layers[i].folded_bias = bias;
    hirfw_fc_fold_bias(&m->layers[i].fc, bias);
    bias += m->layers[i].fc.out_n;
  }
  return HIRFW_OK;
}

static hirfw_status run(hirfw_model* m, const uint8_t* pixels, size_t n, int8_t* logits,
                        size_t cap, int* top, int reference) {
  if (!m || !pixels || !logits || !top) return HIRFW_ERR_NULL;
  if (m->n_layers == 0) return HIRFW_ERR_LAYER;
  if (n != (size_t)m->input_size) return HIRFW_ERR_INPUT;
  if (cap < (size_t)m->output_size) return HIRFW_ERR_BUFFER;
  for (size_t i = 0; i < n; ++i) m->act[0][i] = (int8_t)((int32_t)pixels[i] - 128);
  for (int i = 0; i < m->n_layers; ++i) {
    const hirfw_layer* l = &m->layers[i];
    if (reference)
      hirfw_fc_ref(&l->fc, m->act[i % 2], m->act[(i + 1) % 2]);
    else
      hirfw_fc_fast(&l->fc, l->folded_bias, m->act[i % 2], m->act[(i + 1) % 2]);
  }
  memcpy(logits, m->act[m->n_layers % 2], (size_t)m->output_size);
  *top = hirfw_argmax_s8(logits, m->output_size);
  return HIRFW_OK;
}

hirfw_status hirfw_model_invoke(hirfw_model* m, const uint8_t* pixels, size_t n_pixels,
                                int8_t* logits, size_t logits_cap, int* top_class) {
  return run(m, pixels, n_pixels, logits, logits_cap, top_class, 0);
}

hirfw_status hirfw_model_invoke_ref(hirfw_model* m, const uint8_t* pixels, size_t n_pixels,
                                    int8_t* logits, size_t logits_cap, int* top_class) {
  return run(m, pixels, n_pixels, logits, logits_cap, top_class, 1);
}

void hirfw_model_output_quant(const hirfw_model* m, float* scale, int32_t* zp) {
  const hirfw_layer* l = &m->layers[m->n_layers > 0 ? m->n_layers - 1 : 0];
  *scale = l->out_scale;
  *zp = l->fc.out_zp;
}
