/* int8 kernels with TFLite's affine quantization (real = scale * (q - zero_point)):
 * weights int8 symmetric per output channel (zero point 0), activations int8 per tensor with a
 * zero point, bias int32 with scale input_scale * weight_scale[c], int32 accumulators, and
 * per-channel requantization by hirfw_multiply_by_quantized_multiplier. See TFLite's
 * reference_integer_ops::FullyConnected (per-channel variant) and the quantization spec
 * https://www.tensorflow.org/lite/performance/quantization_spec. */
#ifndef HIRFW_KERNELS_H
#define HIRFW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One fully connected layer: out[c] = clamp(out_zp + requant_c(bias[c] +
 * sum_i (in[i] - in_zp) * w[c*in_n + i]), act_min, act_max). A fused ReLU is expressed by
 * act_min = max(-128, out_zp) (real 0 maps to out_zp), as TFLite's CalculateActivationRange does. */
typedef struct hirfw_fc_params {
  int32_t in_n;              /* input features */
  int32_t out_n;             /* output features (channels) */
  int32_t in_zp;             /* input zero point, [-128, 127] */
  int32_t out_zp;            /* output zero point, [-128, 127] */
  int32_t act_min, act_max;  /* output clamp, within [-128, 127] */
  const int8_t* weights;     /* [out_n][in_n], row-major */
  const uint8_t* bias;       /* out_n little-endian int32 (unaligned access is safe) */
  const uint8_t* mult;       /* out_n little-endian int32 Q31 multipliers */
  const uint8_t* shift;      /* out_n little-endian int32 shifts */
} hirfw_fc_params;

/* Reference kernel: the formula above, one term at a time. */
void hirfw_fc_ref(const hirfw_fc_params* p, const int8_t* in, int8_t* out);

/* The same result, bit for bit, faster: the input zero point's contribution
 * -in_zp * sum_i w[c][i] is folded into the bias once (as CMSIS-NN's kernel sums do), leaving a
 * plain int8 dot product unrolled by four. folded_bias[c] must come from hirfw_fc_fold_bias. */
void hirfw_fc_fast(const hirfw_fc_params* p, const int32_t* folded_bias, const int8_t* in,
                   int8_t* out);

/* folded_bias[c] = bias[c] - in_zp * sum_i w[c][i]. Exact in int32: |sum| <= 127 * in_n and
 * in_n <= 65535. */
void hirfw_fc_fold_bias(const hirfw_fc_params* p, int32_t* folded_bias);

/* Index of the largest value; the lowest index wins a tie. n >= 1. */
int hirfw_argmax_s8(const int8_t* x, int n);

/* Host-side helper (float, uses expf): softmax over dequantized logits scale * (q - zp),
 * written to probs[n]. The firmware itself only reports int8 logits and the argmax; the router
 * turns them into probabilities with this function. */
void hirfw_softmax_dequant(const int8_t* q, int n, float scale, int32_t zp, float* probs);

/* Little-endian int32 load from a possibly unaligned byte pointer. */
int32_t hirfw_load_le32(const uint8_t* p);

#ifdef __cplusplus
}
#endif

#endif
