/* Fixed-point requantization as TensorFlow Lite defines it (tensorflow/lite/kernels/internal/
 * common.h: MultiplyByQuantizedMultiplier), built on gemmlowp's fixedpoint primitives
 * (gemmlowp/fixedpoint/fixedpoint.h: SaturatingRoundingDoublingHighMul, RoundingDivideByPOT).
 *
 * A real scale S in (0, 2^31) is stored as a Q31 multiplier M in [2^30, 2^31) and a shift:
 * S = M * 2^(shift - 31). Positive shifts move left, negative shifts right.
 *
 * Right shifts of negative int32 values are arithmetic on every compiler this code targets
 * (GCC/Clang/armcc define it so; C11 leaves it implementation-defined). */
#ifndef HIRFW_QUANT_H
#define HIRFW_QUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Shifts accepted by hirfw_multiply_by_quantized_multiplier (the blob loader rejects others). */
#define HIRFW_SHIFT_MIN (-31)
#define HIRFW_SHIFT_MAX 30

/* gemmlowp: the high 32 bits of 2*a*b, rounded to nearest (ties away from zero via the nudge);
 * the one overflowing case, a == b == INT32_MIN, saturates to INT32_MAX. */
int32_t hirfw_srdhm(int32_t a, int32_t b);

/* gemmlowp: x / 2^exponent rounded to nearest, ties away from zero. exponent in [0, 31]. */
int32_t hirfw_rounding_divide_by_pot(int32_t x, int exponent);

/* TFLite: round(x * M * 2^(shift - 31)). A left shift that would overflow int32 saturates (TFLite
 * leaves that case undefined; the quantizer never produces it for real models). */
int32_t hirfw_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift);

#ifdef __cplusplus
}
#endif

#endif
