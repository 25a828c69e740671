#include "hirfw/status.h"

const char* hirfw_status_name(hirfw_status s) {
  switch (s) {
    case HIRFW_OK: return "HIRFW_OK";
    case HIRFW_ERR_NULL: return "HIRFW_ERR_NULL";
    case HIRFW_ERR_TRUNCATED: return "HIRFW_ERR_TRUNCATED";
    case HIRFW_ERR_MAGIC: return "HIRFW_ERR_MAGIC";
    case HIRFW_ERR_VERSION: return "HIRFW_ERR_VERSION";
    case HIRFW_ERR_SIZE: return "HIRFW_ERR_SIZE";
    case HIRFW_ERR_CRC: return "HIRFW_ERR_CRC";
    case HIRFW_ERR_LAYER: return "HIRFW_ERR_LAYER";
    case HIRFW_ERR_SHAPE: return "HIRFW_ERR_SHAPE";
    case HIRFW_ERR_QUANT: return "HIRFW_ERR_QUANT";
    case HIRFW_ERR_ARENA: return "HIRFW_ERR_ARENA";
    case HIRFW_ERR_INPUT: return "HIRFW_ERR_INPUT";
    case HIRFW_ERR_BUFFER: return "HIRFW_ERR_BUFFER";
  }
  return "HIRFW_ERR_UNKNOWN";
}
