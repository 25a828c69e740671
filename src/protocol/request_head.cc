// The head of a v2 request, for a router that forwards the body as it came (v2_codec.h,
// parse_infer_request_head). simdjson's On-Demand API reads only the members asked for and skips
// the rest without converting a number: a JSON image of 784 floats cost the full parse ~130k
// instructions to tokenize and as many again to convert (docs/perf/proxy.md). `data` arrays are
// not even tokenised: the header is read with them emptied (hollow.h), and a header read before
// is not read again (header_memo.h). Whatever this reader cannot take as the full parser would,
// it refuses; the caller then runs the full parser, which accepts it or names the error exactly
// as before.
#include <limits>
#include <string>

#include <simdjson.h>

#include "core/datatype.h"
#include "protocol/header_memo.h"
#include "protocol/hollow.h"
#include "protocol/json_read.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {
namespace {

namespace od = simdjson::ondemand;

constexpr size_t kKeepCapacity = size_t{1} << 20;  // a buffer grown past this is not kept

// Gives a thread's scratch buffer back when one huge message grew it past kKeepCapacity, so that
// it does not stay pinned to the thread.
struct KeepSmall {
  std::string& s;
  ~KeepSmall() {
    if (s.capacity() > kKeepCapacity) std::string().swap(s);
  }
};

// Never destroyed: destroying this thread_local On-Demand parser at process exit crashed hir serve
// after it had stopped cleanly (simdjson 3.0.1; the cause was not found, the DOM parser's twin in
// json_read.cc is unaffected). An I/O thread lives as long as the process anyway.
thread_local od::parser* t_parser = new od::parser;
thread_local std::string t_padded;  // the JSON part, followed by simdjson's padding

Status refuse() { return InvalidArgument("take the full path"); }

// Calls fn(key, value) for each member of v, which must be an object.
template <typename Fn>
Status each_member(od::value v, Fn&& fn) {
  od::object o;
  if (v.get_object().get(o)) return refuse();
  for (auto field : o) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return refuse();
    HIR_RETURN_IF_ERROR(fn(key, value));
  }
  return Status::Ok();
}

// A tensor's or output's name: a non-empty string, given once (of repeated members the full
// parser decides which counts).
Status read_name(od::value v, bool& seen, std::string& out) {
  std::string_view s;
  if (seen || v.get_string().get(s) || s.empty()) return refuse();
  out = s;
  seen = true;
  return Status::Ok();
}

// {k: string|number|bool}, as as_parameters takes it (an integer beyond int64 as a double).
// `seen`: a second "parameters" in the same object goes the full way, which reads the first, as
// the worker does (judging by an empty map let `{}` then `{...}` through, the hints read from the
// second copy while the worker took the first).
Status read_parameters(od::value v, bool& seen, Parameters& out) {
  if (seen) return refuse();  // given twice
  seen = true;
  return each_member(v, [&out](std::string_view key, od::value value) {
    od::json_type type;
    if (value.type().get(type)) return refuse();
    ParamValue pv;
    switch (type) {
      case od::json_type::string: {
        std::string_view s;
        if (value.get_string().get(s)) return refuse();
        pv = std::string(s);
        break;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (value.get_bool().get(b)) return refuse();
        pv = b;
        break;
      }
      case od::json_type::number: {
        od::number_type nt;
        if (value.get_number_type().get(nt)) return refuse();
        if (nt == od::number_type::signed_integer) {
          int64_t i = 0;
          if (value.get_int64().get(i)) return refuse();
          pv = i;
        } else {
          double d = 0;
          if (value.get_double().get(d)) return refuse();
          pv = d;
        }
        break;
      }
      default:
        return refuse();
    }
    out.insert_or_assign(std::string(key), std::move(pv));
    return Status::Ok();
  });
}

Status read_shape(od::value v, Shape& out) {
  od::array a;
  if (v.get_array().get(a)) return refuse();
  for (auto d : a) {
    int64_t n = 0;
    if (d.get_int64().get(n) || n < 0) return refuse();  // 3.0 and friends: the full path
    out.push_back(n);
  }
  return Status::Ok();
}

// One input's header; `data` is skipped (binary: false) or its size taken (binary: true).
Status read_input(od::value v, Tensor& t, std::optional<int64_t>& binary_size) {
  bool name = false, datatype = false, shape = false, data = false, params = false;
  HIR_RETURN_IF_ERROR(each_member(v, [&](std::string_view key, od::value value) {
    if (key == "name") return read_name(value, name, t.name);
    if (key == "datatype") {
      std::string_view s;
      if (datatype || value.get_string().get(s)) return refuse();
      auto dt = parse_datatype(s);
      if (!dt) return refuse();
      t.datatype = *dt;
      datatype = true;
    } else if (key == "shape") {
      if (shape) return refuse();
      shape = true;
      return read_shape(value, t.shape);
    } else if (key == "parameters") {
      return read_parameters(value, params, t.parameters);
    } else if (key == "data") {
      if (data) return refuse();
      data = true;  // not read: the target checks what it holds
    }
    return Status::Ok();
  }));
  if (!name || !datatype || !shape) return refuse();
  if (t.parameters.count("shared_memory_region") != 0) return refuse();
  if (auto it = t.parameters.find("binary_data_size"); it != t.parameters.end()) {
    const auto* n = std::get_if<int64_t>(&it->second);
    if (n == nullptr || *n < 0) return refuse();
    binary_size = *n;
    t.parameters.erase(it);
  }
  if (data == binary_size.has_value()) return refuse();
  return Status::Ok();
}

// A raw input's bytes are only measured here; BYTES elements, whose framing must be walked, go
// the full way.
Status take_binary(std::string_view& rest, const Tensor& t, int64_t size) {
  if (static_cast<uint64_t>(size) > rest.size() || t.datatype == DataType::kBytes) return refuse();
  auto count = element_count(t.shape);
  if (!count.ok()) return refuse();
  const auto width = static_cast<int64_t>(datatype_size(t.datatype));
  if (*count > std::numeric_limits<int64_t>::max() / width || *count * width != size) return refuse();
  rest.remove_prefix(static_cast<size_t>(size));
  return Status::Ok();
}

Status read_outputs(od::value v, std::vector<RequestedOutput>& out) {
  od::array a;
  if (v.get_array().get(a)) return refuse();
  for (auto e : a) {
    od::value ev;
    if (e.get(ev)) return refuse();
    RequestedOutput r;
    bool name = false, params = false;
    HIR_RETURN_IF_ERROR(each_member(ev, [&](std::string_view key, od::value value) {
      if (key == "name") return read_name(value, name, r.name);
      if (key == "parameters") return read_parameters(value, params, r.parameters);
      return Status::Ok();
    }));
    if (!name) return refuse();
    if (auto it = r.parameters.find("binary_data"); it != r.parameters.end()) {
      const bool* b = std::get_if<bool>(&it->second);
      if (b == nullptr) return refuse();
      r.binary_data = *b;
      r.parameters.erase(it);
    }
    out.push_back(std::move(r));
  }
  return Status::Ok();
}

// `raw` counts the inputs sent raw.
Status read_inputs(od::value v, std::string_view& rest, std::vector<Tensor>& out, size_t& raw) {
  od::array a;
  if (v.get_array().get(a)) return refuse();
  for (auto e : a) {
    od::value ev;
    if (e.get(ev)) return refuse();
    Tensor t;
    std::optional<int64_t> binary_size;
    HIR_RETURN_IF_ERROR(read_input(ev, t, binary_size));
    for (const Tensor& seen : out)
      if (seen.name == t.name) return refuse();
    if (binary_size) {
      HIR_RETURN_IF_ERROR(take_binary(rest, t, *binary_size));
      ++raw;
    }
    out.push_back(std::move(t));
    // Beyond a few inputs the look back above would be quadratic: the full path's set.
    if (out.size() > 16) return refuse();
  }
  return Status::Ok();
}

Status read_head(od::document& doc, std::string_view& rest, InferRequest& req, size_t& raw) {
  od::value root;
  if (doc.get_value().get(root)) return refuse();
  bool id = false, inputs = false, outputs = false, params = false;
  HIR_RETURN_IF_ERROR(each_member(root, [&](std::string_view key, od::value value) {
    if (key == "id") {
      if (id) return refuse();
      id = true;
      bool null = false;
      if (value.is_null().get(null)) return refuse();
      if (null) return Status::Ok();
      std::string_view s;
      if (value.get_string().get(s)) return refuse();
      req.id = s;
    } else if (key == "parameters") {
      return read_parameters(value, params, req.parameters);
    } else if (key == "inputs") {
      if (inputs) return refuse();
      inputs = true;
      return read_inputs(value, rest, req.inputs, raw);
    } else if (key == "outputs") {
      if (outputs) return refuse();
      outputs = true;
      return read_outputs(value, req.outputs);
    }
    return Status::Ok();
  }));
  if (!inputs) return refuse();
  if (auto it = req.parameters.find("binary_data_output");
      it != req.parameters.end() && !std::holds_alternative<bool>(it->second))
    return refuse();
  if (!rest.empty()) return refuse();
  return Status::Ok();
}

}  // namespace

Result<HeadView> view_infer_request_head(std::string_view body, std::optional<std::string_view> header_length,
                                         std::vector<std::string_view>* data_texts,
                                         std::vector<int64_t>* data_commas) {
  if (data_texts) data_texts->clear();
  if (!data_texts) data_commas = nullptr;
  if (data_commas) data_commas->clear();
  Result<size_t> len = detail::forwarded_json_length(body, header_length);
  if (!len.ok()) return len.status();
  const std::string_view json = body.substr(0, *len);
  std::string_view rest = body.substr(*len);
  // A header read before, up to its id, with a binary section of the same length reads the same
  // (header_memo.h): the reader looks at nothing else of the body. JSON tensors' values are not
  // read either, so a header is also looked up, and read, with them left out (hollow.h): then
  // JSON requests of a kind share one entry too.
  thread_local HeaderMemo<InferRequest> memo;
  thread_local InferRequest t_unkept;  // a head read but not kept in the memo, viewed until the next
  thread_local std::string t_hollow;
  KeepSmall keep_hollow{t_hollow};
  // A header read before, found by its text, is answered from the memo with this body's id.
  struct Seen {
    std::optional<HeaderKey> key;
    const InferRequest* req = nullptr;
    uint64_t serial = 0;
  };
  auto recall = [&rest](std::string_view text) {
    Seen s{header_key(text)};
    if (s.key) s.req = memo.find(*s.key, rest.size(), &s.serial);
    return s;
  };
  auto answer = [](const Seen& s) {
    return HeadView{s.req, s.key->has_id ? s.key->id : std::string_view(s.req->id), s.serial};
  };
  // A body that is all JSON (no binary section) carries its tensors' values in data arrays, so
  // it is looked up with them left out, first: its full text, numbers included, is seldom seen
  // twice. A header with a binary section is looked up as it is first, and shortened only when
  // it holds a data member: a raw-tensor header seen for the first time is not walked for nothing.
  const bool all_json = !header_length.has_value();
  if (!all_json)
    if (const Seen s = recall(json); s.req) return answer(s);
  std::string_view text = json;
  const bool hollowed = (all_json || json.find("\"data\"") != std::string_view::npos) &&
                        hollow_data_arrays(json, t_hollow, data_texts, data_commas) && t_hollow.size() < json.size();
  if (!hollowed && data_texts) data_texts->clear();
  if (!hollowed && data_commas) data_commas->clear();
  if (hollowed) {
    text = t_hollow;
    if (const Seen s = recall(text); s.req) return answer(s);
  } else if (all_json) {
    if (const Seen s = recall(json); s.req) return answer(s);
  }
  t_padded.assign(text);
  t_padded.append(simdjson::SIMDJSON_PADDING, '\0');
  KeepSmall keep_padded{t_padded};
  od::document doc;
  if (t_parser->iterate(simdjson::padded_string_view(t_padded.data(), text.size(), t_padded.size())).get(doc))
    return refuse();
  const size_t bin_size = rest.size();
  InferRequest req;
  size_t raw = 0;
  // Any error an On-Demand step reports (malformed JSON met while reading) is a refusal too.
  HIR_RETURN_IF_ERROR(read_head(doc, rest, req, raw));
  // Bytes after the root object (whitespace aside) make the header malformed, and On-Demand does
  // not look past the root. They are refused here: a router that edits the header (its hints
  // removed) writes it again from the members read, and they would be dropped instead of
  // reaching the target's parser.
  if (!nothing_after_root(text)) return refuse();
  // Headers that hold tensor values, each seen once, are not kept. The id read is this body's
  // and is kept with the head (a view of it is this body's id, as it was read).
  const InferRequest* kept = nullptr;
  uint64_t serial = 0;
  if (hollowed || raw == req.inputs.size())
    kept = memo.add(
        text, bin_size,
        [&req](std::string_view, InferRequest& v) {
          v = std::move(req);
          return true;
        },
        &serial);
  if (!kept) {
    t_unkept = std::move(req);
    kept = &t_unkept;
  }
  return HeadView{kept, kept->id, serial};
}

Result<InferRequest> parse_infer_request_head(std::string_view body,
                                              std::optional<std::string_view> header_length,
                                              std::vector<std::string_view>* data_texts,
                                              std::vector<int64_t>* data_commas) {
  auto view = view_infer_request_head(body, header_length, data_texts, data_commas);
  if (!view.ok()) return view.status();
  // Copied straight into the result, then given this body's id (a copy through an optional moved
  // it twice more: ~200 instructions).
  Result<InferRequest> r(*view->head);
  r->id = view->id;
  return r;
}

}  // namespace hir::protocol
