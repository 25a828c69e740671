#include "hirfw/quant.h"

#include <limits.h>

int32_t hirfw_srdhm(int32_t a, int32_t b) {
  /* gemmlowp SaturatingRoundingDoublingHighMul. */
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  /* C division truncates toward zero, as gemmlowp's does. */
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

int32_t hirfw_rounding_divide_by_pot(int32_t x, int exponent) {
  /* gemmlowp RoundingDivideByPOT: add one when the remainder exceeds half, where "half" is
   * nudged up by one for negative x so that ties round away from zero. */
  if (exponent <= 0) return x;
  if (exponent > 31) exponent = 31;
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t hirfw_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  int64_t shifted = (int64_t)x * ((int64_t)1 << left);
  if (shifted > INT32_MAX) shifted = INT32_MAX;
  if (shifted < INT32_MIN) shifted = INT32_MIN;
  return hirfw_rounding_divide_by_pot(hirfw_srdhm((int32_t)shifted, multiplier), right);
}
