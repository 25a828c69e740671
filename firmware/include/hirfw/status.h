/* Error codes returned by every fallible firmware function (errors as values: nothing in the
 * firmware aborts, allocates or longjmps). */
#ifndef HIRFW_STATUS_H
#define HIRFW_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hirfw_status {
  HIRFW_OK = 0,
  HIRFW_ERR_NULL = 1,       /* a required pointer argument was NULL */
  HIRFW_ERR_TRUNCATED = 2,  /* the blob is shorter than its header or its layer table */
  HIRFW_ERR_MAGIC = 3,      /* the blob does not start with "HIRM" */
  HIRFW_ERR_VERSION = 4,    /* unsupported blob format version */
  HIRFW_ERR_SIZE = 5,       /* header size or total size disagrees with the bytes given */
  HIRFW_ERR_CRC = 6,        /* CRC-32 of the blob body does not match the header */
  HIRFW_ERR_LAYER = 7,      /* unknown layer kind/activation, or data outside the blob */
  HIRFW_ERR_SHAPE = 8,      /* layer sizes do not chain, or exceed the firmware's limits */
  HIRFW_ERR_QUANT = 9,      /* a zero point, multiplier or shift is out of range */
  HIRFW_ERR_ARENA = 10,     /* the arena is smaller than the model needs, or misaligned */
  HIRFW_ERR_INPUT = 11,     /* the input has the wrong number of elements */
  HIRFW_ERR_BUFFER = 12     /* an output buffer is too small */
} hirfw_status;

/* A short constant name for logs ("HIRFW_ERR_CRC"); never NULL. */
const char* hirfw_status_name(hirfw_status s);

#ifdef __cplusplus
}
#endif

#endif
