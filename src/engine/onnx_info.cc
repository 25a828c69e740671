#include "engine/onnx_info.h"

#include <set>

namespace hir {
namespace {

// Protobuf wire format (protobuf.dev/programming-guides/encoding): each field is a varint key
// (field number << 3 | wire type) then a varint, a fixed 64/32-bit value or a length-prefixed run.
enum WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }
  bool failed() const { return failed_; }

  // Reads the next field's key; false at the end or on malformed input.
  bool next(uint32_t& field, int& wire) {
    if (done() || failed_) return false;
    uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    wire = static_cast<int>(key & 7);
    return !failed_ && field != 0;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) break;
      auto byte = static_cast<uint8_t>(b_[pos_++]);
      v |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return v;
    }
    failed_ = true;
    return 0;
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (failed_ || n > b_.size() - pos_) {
      failed_ = true;
      return {};
    }
    std::string_view out = b_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  void skip(int wire) {
    switch (wire) {
      case kVarint: varint(); break;
      case kFixed64: advance(8); break;
      case kLengthDelimited: bytes(); break;
      case kFixed32: advance(4); break;
      default: failed_ = true;  // groups (3, 4) are not used by onnx.proto
    }
  }

 private:
  void advance(size_t n) {
    if (n > b_.size() - pos_) failed_ = true;
    else pos_ += n;
  }
  std::string_view b_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Each parse_* walks one message and returns false when it is malformed.

bool parse_dim(std::string_view msg, int64_t& dim) {  // TensorShapeProto.Dimension
  Reader r(msg);
  dim = -1;
  uint32_t f;
  int w;
  while (r.next(f, w)) {
    if (f == 1 && w == kVarint) dim = static_cast<int64_t>(r.varint());  // dim_value
    else r.skip(w);                                                        // dim_param: stays -1
  }
  return !r.failed();
}

bool parse_tensor_type(std::string_view msg, OnnxTensorInfo& info) {  // TypeProto.Tensor
  Reader r(msg);
  uint32_t f;
  int w;
  while (r.next(f, w)) {
    if (f == 1 && w == kVarint) {
      info.elem_type = static_cast<int>(r.varint());
    } else if (f == 2 && w == kLengthDelimited) {  // TensorShapeProto
      Reader shape(r.bytes());
      uint32_t sf;
      int sw;
      while (shape.next(sf, sw)) {
        if (sf == 1 && sw == kLengthDelimited) {
          int64_t d;
          if (!parse_dim(shape.bytes(), d)) return false;
          info.dims.push_back(d);
        } else {
          shape.skip(sw);
        }
      }
      if (shape.failed()) return false;
    } else {
      r.skip(w);
    }
  }
  return !r.failed();
}

bool parse_value_info(std::string_view msg, OnnxTensorInfo& info) {  // ValueInfoProto
  Reader r(msg);
  uint32_t f;
  int w;
  while (r.next(f, w)) {
    if (f == 1 && w == kLengthDelimited) {
      info.name = std::string(r.bytes());
    } else if (f == 2 && w == kLengthDelimited) {  // TypeProto; field 1 is tensor_type
      Reader t(r.bytes());
      uint32_t tf;
      int tw;
      while (t.next(tf, tw)) {
        if (tf == 1 && tw == kLengthDelimited) {
          if (!parse_tensor_type(t.bytes(), info)) return false;
        } else {
          t.skip(tw);
        }
      }
      if (t.failed()) return false;
    } else {
      r.skip(w);
    }
  }
  return !r.failed();
}

bool parse_graph(std::string_view msg, OnnxGraphInfo& g) {  // GraphProto
  Reader r(msg);
  uint32_t f;
  int w;
  std::vector<OnnxTensorInfo> inputs;
  std::set<std::string, std::less<>> initializers;
  while (r.next(f, w)) {
    if ((f == 11 || f == 12) && w == kLengthDelimited) {  // input, output
      OnnxTensorInfo info;
      if (!parse_value_info(r.bytes(), info)) return false;
      (f == 11 ? inputs : g.outputs).push_back(std::move(info));
    } else if (f == 5 && w == kLengthDelimited) {  // initializer (TensorProto); its name is field 8
      Reader t(r.bytes());
      uint32_t tf;
      int tw;
      while (t.next(tf, tw)) {
        if (tf == 8 && tw == kLengthDelimited) initializers.emplace(t.bytes());
        else t.skip(tw);
      }
      if (t.failed()) return false;
    } else {
      r.skip(w);
    }
  }
  // Exporters before IR version 4 also list every weight as a graph input.
  for (auto& in : inputs) {
    if (!initializers.contains(in.name)) g.inputs.push_back(std::move(in));
  }
  return !r.failed();
}

bool parse_opset(std::string_view msg, OnnxGraphInfo& g) {  // OperatorSetIdProto
  Reader r(msg);
  uint32_t f;
  int w;
  std::string_view domain;
  int64_t version = 0;
  while (r.next(f, w)) {
    if (f == 1 && w == kLengthDelimited) domain = r.bytes();
    else if (f == 2 && w == kVarint) version = static_cast<int64_t>(r.varint());
    else r.skip(w);
  }
  if (domain.empty() || domain == "ai.onnx") g.opset = version;
  return !r.failed();
}

}  // namespace

Result<OnnxGraphInfo> read_onnx_info(std::string_view model_bytes) {
  Reader r(model_bytes);
  OnnxGraphInfo g;
  bool has_graph = false;
  uint32_t f;
  int w;
  while (r.next(f, w)) {
    if (f == 7 && w == kLengthDelimited) {
      if (!parse_graph(r.bytes(), g)) return InvalidArgument("malformed ONNX graph");
      has_graph = true;
    } else if (f == 8 && w == kLengthDelimited) {
      if (!parse_opset(r.bytes(), g)) return InvalidArgument("malformed ONNX opset_import");
    } else {
      r.skip(w);
    }
  }
  if (r.failed() || !r.done()) return InvalidArgument("not an ONNX model (malformed protobuf)");
  if (!has_graph) return InvalidArgument("not an ONNX model (no graph)");
  return g;
}

}  // namespace hir
