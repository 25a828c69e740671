/* A quantized MLP loaded from a model blob (format: docs/model-blob.md) and run in a
 * caller-owned arena. Nothing is allocated: the model struct, the blob bytes and the arena all
 * belong to the caller and must outlive the model. Not thread-safe; one invocation at a time.
 *
 * Input on the wire is the raw image: uint8 pixels 0..255. The model's input tensor is int8 with
 * scale 1/255 and zero point -128, so quantization is exact: q = pixel - 128. */
#ifndef HIRFW_MODEL_H
#define HIRFW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "hirfw/kernels.h"
#include "hirfw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HIRFW_BLOB_MAGIC "HIRM"
#define HIRFW_BLOB_VERSION 1
#define HIRFW_BLOB_HEADER_BYTES 32
#define HIRFW_BLOB_LAYER_BYTES 32
#define HIRFW_MAX_LAYERS 8
#define HIRFW_MAX_FEATURES 16384
#define HIRFW_MAX_OUTPUTS 64 /* logits a RESULT frame can carry */
#define HIRFW_LAYER_FULLY_CONNECTED 1
#define HIRFW_ACT_NONE 0
#define HIRFW_ACT_RELU 1
#define HIRFW_INPUT_U8_PIXELS 0 /* input_encoding: q = pixel - 128 */

typedef struct hirfw_layer {
  hirfw_fc_params fc;     /* points into the blob */
  int activation;         /* HIRFW_ACT_* */
  float in_scale;         /* real = in_scale * (q - in_zp) */
  float out_scale;        /* real = out_scale * (q - out_zp) */
  int32_t* folded_bias;   /* in the arena, see hirfw_fc_fold_bias */
} hirfw_layer;

typedef struct hirfw_model {
  int n_layers;
  int input_size;
  int output_size;
  uint32_t blob_crc32;  /* identifies the loaded blob (reported by the INFO frame) */
  uint32_t macs;        /* multiply-accumulates per inference */
  hirfw_layer layers[HIRFW_MAX_LAYERS];
  int8_t* act[2];       /* ping-pong activation buffers in the arena */
} hirfw_model;

/* Validates the blob header and layer table without an arena, and reports the arena bytes the
 * model needs (computed here, and also checked against the figure the blob records). */
hirfw_status hirfw_model_check(const uint8_t* blob, size_t blob_len, size_t* arena_bytes);

/* Validates the blob and sets up the model over it; arena must be 4-byte aligned and at least
 * hirfw_model_check's arena_bytes long. On error the model is left unusable. */
hirfw_status hirfw_model_init(hirfw_model* m, const uint8_t* blob, size_t blob_len,
                              uint8_t* arena, size_t arena_len);

/* Runs one inference over n_pixels raw uint8 pixels (must equal input_size). Writes
 * output_size int8 logits into logits (logits_cap >= output_size) and the argmax into
 * *top_class. The logits' real value is output_scale * (q - output_zp); see
 * hirfw_model_output_quant. */
hirfw_status hirfw_model_invoke(hirfw_model* m, const uint8_t* pixels, size_t n_pixels,
                                int8_t* logits, size_t logits_cap, int* top_class);

/* Same as invoke, but with the reference kernels (for tests; bit-exact with invoke). */
hirfw_status hirfw_model_invoke_ref(hirfw_model* m, const uint8_t* pixels, size_t n_pixels,
                                    int8_t* logits, size_t logits_cap, int* top_class);

/* The final layer's output scale and zero point. */
void hirfw_model_output_quant(const hirfw_model* m, float* scale, int32_t* zp);

/* CRC-32 (ISO-HDLC, as zlib's crc32: reflected poly 0xEDB88320, init and xorout 0xFFFFFFFF;
 * check value 0xCBF43926 for "123456789"). crc is the running value; start with 0. */
uint32_t hirfw_crc32(uint32_t crc, const uint8_t* data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
