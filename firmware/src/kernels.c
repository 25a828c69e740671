#include "hirfw/kernels.h"

#include <math.h>

#include "hirfw/quant.h"

int32_t hirfw_load_le32(const uint8_t* p) {
  const uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
  /* Two's complement reinterpretation without relying on an out-of-range conversion. */
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static int8_t requantize(const hirfw_fc_params* p, int c, int32_t acc) {
  int32_t v = hirfw_multiply_by_quantized_multiplier(acc, hirfw_load_le32(p->mult + 4 * c),
                                                     (int)hirfw_load_le32(p->shift + 4 * c));
  v += p->out_zp;
  if (v < p->act_min) v = p->act_min;
  if (v > p->act_max) v = p->act_max;
  return (int8_t)v;
}

void hirfw_fc_ref(const hirfw_fc_params* p, const int8_t* in, int8_t* out) {
  for (int c = 0; c < p->out_n; ++c) {
    const int8_t* w = p->weights + (size_t)c * (size_t)p->in_n;
    int32_t acc = hirfw_load_le32(p->bias + 4 * c);
    for (int i = 0; i < p->in_n; ++i) acc += ((int32_t)in[i] - p->in_zp) * (int32_t)w[i];
    out[c] = requantize(p, c, acc);
  }
}

void hirfw_fc_fold_bias(const hirfw_fc_params* p, int32_t* folded_bias) {
  for (int c = 0; c < p->out_n; ++c) {
    const int8_t* w = p->weights + (size_t)c * (size_t)p->in_n;
    int32_t sum = 0;
    for (int i = 0; i < p->in_n; ++i) sum += w[i];
    folded_bias[c] = hirfw_load_le32(p->bias + 4 * c) - p->in_zp * sum;
  }
}

void hirfw_fc_fast(const hirfw_fc_params* p, const int32_t* folded_bias, const int8_t* in,
                   int8_t* out) {
  const int n4 = p->in_n & ~3;
  for (int c = 0; c < p->out_n; ++c) {
    const int8_t* w = p->weights + (size_t)c * (size_t)p->in_n;
    /* Two partial sums give the compiler (and an M4's dual-MAC SMLAD) independent chains. */
    int32_t a0 = folded_bias[c], a1 = 0;
    int i = 0;
    for (; i < n4; i += 4) {
      a0 += (int32_t)in[i] * w[i] + (int32_t)in[i + 1] * w[i + 1];
      a1 += (int32_t)in[i + 2] * w[i + 2] + (int32_t)in[i + 3] * w[i + 3];
    }
    for (; i < p->in_n; ++i) a0 += (int32_t)in[i] * w[i];
    out[c] = requantize(p, c, a0 + a1);
  }
}

int hirfw_argmax_s8(const int8_t* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

void hirfw_softmax_dequant(const int8_t* q, int n, float scale, int32_t zp, float* probs) {
  /* Subtract the max before exponentiating so expf never overflows. */
  const int top = hirfw_argmax_s8(q, n);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    probs[i] = expf(scale * (float)((int32_t)q[i] - zp) - scale * (float)((int32_t)q[top] - zp));
    sum += probs[i];
  }
  for (int i = 0; i < n; ++i) probs[i] /= sum;
}
