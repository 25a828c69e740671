// Header-only editing of a v2 response (splice.h). Two passes over the JSON header: simdjson's DOM
// checks it as parse_infer_response would (without copying any tensor), then a small scanner finds
// the byte ranges of the top-level members so that all but the edited ones are copied verbatim.
// A header that passed both once is remembered (header_memo.h), so that a target's next answers,
// the same but for the request id, skip them. A JSON answer is remembered with its data arrays
// emptied (hollow.h): its next answers differ in those too, and only their contents are read
// again, by the DOM-free reader that agrees with the check (tensor_data.h), then put back.
#include "protocol/splice.h"

#include <charconv>
#include <limits>
#include <span>
#include <vector>

#include "core/datatype.h"
#include "protocol/header_memo.h"
#include "protocol/hollow.h"
#include "protocol/json_read.h"
#include "protocol/json_write.h"
#include "protocol/tensor_data.h"

namespace hir::protocol {
namespace {

using namespace detail;  // NOLINT: internal helpers of this module

// JSON answers longer than this go without the memo: remembering one keeps a copy of every
// output's data to compare, which is bounded here (an answer of 64 images' scores is ~8 KB).
constexpr size_t kMaxRemembered = 65536;

// What as_parameters accepts (string, number or boolean values), checked without building the
// map. Of repeated keys the last counts, as in as_parameters; `size` gets binary_data_size's.
Status check_parameters(const element& e, std::optional<element>* size, bool* shared_memory) {
  object o;
  HIR_RETURN_IF_ERROR(as_object(e, "parameters", o));
  for (auto field : o) {
    switch (field.value.type()) {
      case simdjson::dom::element_type::BOOL:
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
      case simdjson::dom::element_type::STRING:
        break;
      default:
        return InvalidArgument("a parameter must be a string, number or boolean");
    }
    if (size != nullptr && field.key == "binary_data_size") *size = field.value;
    if (shared_memory != nullptr && field.key == "shared_memory_region") *shared_memory = true;
  }
  return Status::Ok();
}

// One output checked like parse_infer_response's read_tensor; raw bytes are only measured
// (BYTES elements, whose framing must be walked, are the exception and are checked on a copy).
// `by_size`: the output's check read nothing of its raw bytes but their count.
Status check_output(const element& e, std::string_view& bin, Tensor& scratch, bool& binary, bool& by_size) {
  object o;
  HIR_RETURN_IF_ERROR(as_object(e, "output", o));
  element v;
  std::string_view s;
  HIR_RETURN_IF_ERROR(required(o, "name", "name", v));
  HIR_RETURN_IF_ERROR(as_string(v, "name", s));
  if (s.empty()) return InvalidArgument("empty output name");
  scratch.name = s;
  HIR_RETURN_IF_ERROR(required(o, "datatype", "datatype", v));
  HIR_RETURN_IF_ERROR(as_string(v, "datatype", s));
  std::optional<DataType> dt = parse_datatype(s);
  if (!dt) return InvalidArgument("bad datatype");
  scratch.datatype = *dt;
  HIR_RETURN_IF_ERROR(required(o, "shape", "shape", v));
  HIR_RETURN_IF_ERROR(as_shape(v, "shape", 0, scratch.shape));
  Result<int64_t> count = element_count(scratch.shape);
  if (!count.ok()) return count.status();
  std::optional<element> size_value;
  bool shared_memory = false;
  if (auto p = member(o, "parameters")) HIR_RETURN_IF_ERROR(check_parameters(*p, &size_value, &shared_memory));
  if (shared_memory) return Unimplemented("shared memory");
  std::optional<int64_t> size;
  if (size_value) {
    // Only an int64 reads back as one (a uint64 beyond it becomes a double, which is refused).
    if (size_value->type() != simdjson::dom::element_type::INT64) return InvalidArgument("bad binary_data_size");
    size = size_value->get_int64().value_unsafe();
    if (*size < 0) return InvalidArgument("bad binary_data_size");
  }
  std::optional<element> data = member(o, "data");
  if (data.has_value() == size.has_value()) return InvalidArgument("needs one of data, binary_data_size");
  binary = size.has_value();
  by_size = binary && *dt != DataType::kBytes;
  // FP16/BF16 sent as JSON, which the encoder would send raw, are refused by read_json_data.
  if (!binary) return read_json_data(*data, "data", scratch);
  if (static_cast<uint64_t>(*size) > bin.size()) return InvalidArgument("binary section too short");
  const std::string_view bytes = bin.substr(0, static_cast<size_t>(*size));
  bin.remove_prefix(bytes.size());
  if (*dt == DataType::kBytes) {
    scratch.data.assign(bytes);
    return check_tensor_data(scratch);
  }
  const auto width = static_cast<int64_t>(datatype_size(*dt));
  if (*count > std::numeric_limits<int64_t>::max() / width || *count * width != *size)
    return InvalidArgument("byte size mismatch");
  return Status::Ok();
}

// What checking an answer found out, beyond its being acceptable.
struct Checked {
  size_t binary_outputs = 0;
  // Every output is raw and not BYTES: the check read the header and the binary section's
  // length only, so another answer with the same header (up to the id) and length passes too.
  bool header_decides = true;
};

// The answer as parse_infer_response would accept it. json_outputs, when given, receives each
// JSON output as read (datatype, shape, data), in order.
Status check_response(std::string_view json, std::string_view bin, Checked& found,
                      std::vector<Tensor>* json_outputs = nullptr) {
  ParsedJson doc(json, "response");
  HIR_RETURN_IF_ERROR(doc.status());
  const object& root = doc.root();
  if (member(root, "error")) return InvalidArgument("the response carries an error");
  for (std::string_view key : {"id", "model_name", "model_version"}) {
    std::optional<element> v = member(root, key);
    if (v && !v->is_null() && !v->is_string()) return InvalidArgument("non-string " + std::string(key));
  }
  if (auto p = member(root, "parameters")) HIR_RETURN_IF_ERROR(check_parameters(*p, nullptr, nullptr));
  element outputs;
  HIR_RETURN_IF_ERROR(required(root, "outputs", "outputs", outputs));
  array arr;
  HIR_RETURN_IF_ERROR(as_array(outputs, "outputs", arr));
  Tensor scratch;
  found = Checked{};
  for (element e : arr) {
    bool binary = false, by_size = false;
    HIR_RETURN_IF_ERROR(check_output(e, bin, scratch, binary, by_size));
    if (json_outputs != nullptr && !binary) json_outputs->push_back(scratch);
    found.binary_outputs += binary ? 1 : 0;
    found.header_decides = found.header_decides && by_size;
  }
  if (!bin.empty()) return InvalidArgument("bytes after the last binary tensor");
  return Status::Ok();
}

// A member of a JSON object: its key as written (between the quotes) and its value's text.
struct Member {
  std::string_view key;
  std::string_view value;
};

// Finds the members of the object at the start of `s` (after whitespace). The text has passed
// simdjson, so the scanner only needs to find boundaries; it still checks every index, so that
// it cannot read out of bounds even if it were handed something else.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  // false when the text is not an object the scanner can read; keys with escapes are refused so
  // that comparing keys as written is the same as comparing them decoded.
  bool members(std::vector<Member>& out) {
    return items('{', '}', [&] {
      const size_t k = i_;
      if (!string()) return false;
      std::string_view key = s_.substr(k + 1, i_ - k - 2);
      if (key.find('\\') != std::string_view::npos) return false;
      ws();
      if (!eat(':')) return false;
      ws();
      const size_t v = i_;
      if (!value()) return false;
      out.push_back({key, s_.substr(v, i_ - v)});
      return true;
    });
  }

  // The elements of the array at the start of `s` (after whitespace), as written.
  bool elements(std::vector<std::string_view>& out) {
    return items('[', ']', [&] {
      const size_t v = i_;
      if (!value()) return false;
      out.push_back(s_.substr(v, i_ - v));
      return true;
    });
  }

 private:
  // open, then items read by `one` separated by commas, then close; whitespace anywhere between.
  template <typename One>
  bool items(char open, char close, One&& one) {
    ws();
    if (!eat(open)) return false;
    ws();
    if (eat(close)) return true;
    for (;;) {
      ws();
      if (!one()) return false;
      ws();
      if (eat(close)) return true;
      if (!eat(',')) return false;
    }
  }
  bool eat(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool string() {
    if (!eat('"')) return false;
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') ++i_;  // the escaped character, whatever it is, cannot end the string
    }
    return false;
  }
  // A value's extent. Nested objects and arrays are skipped by counting brackets outside
  // strings: simdjson has checked that they pair up, and no recursion means no depth to bound.
  bool value() {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') return string();
    if (c == '{' || c == '[') {
      size_t depth = 0;
      while (i_ < s_.size()) {
        // Only quotes and brackets matter here; next_json_special finds them many bytes at a
        // time (a JSON request's 784 numbers are 6.5 KB), and the other bytes it stops at are
        // stepped over below.
        i_ = next_json_special(s_, i_);
        if (i_ >= s_.size()) break;
        const char d = s_[i_];
        if (d == '"') {
          if (!string()) return false;
          continue;
        }
        ++i_;
        if (d == '{' || d == '[') ++depth;
        else if ((d == '}' || d == ']') && --depth == 0) return true;
      }
      return false;
    }
    // A number or a literal: everything up to the next delimiter.
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' &&
           s_[i_] != '\t' && s_[i_] != '\n' && s_[i_] != '\r')
      ++i_;
    return i_ > start;
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool is_edited(std::string_view key) {
  return key == "id" || key == "model_name" || key == "model_version" || key == "parameters";
}

// ,"parameters":{...}: the target's own entries as written, less those `extra` replaces, then
// `extra`'s; nothing when both are empty, as the encoder writes nothing for empty parameters.
bool replaced(std::string_view key, std::span<const ParamRef> extra) {
  for (const ParamRef& p : extra)
    if (p.key == key) return true;
  return false;
}

size_t merged_parameters_bound(std::span<const Member> own, std::span<const ParamRef> extra) {
  size_t n = 16;  // ,"parameters":{ and }
  for (const Member& m : own) n += 4 + m.key.size() + m.value.size();
  for (const ParamRef& p : extra) n += 2 + json_string_bound(p.key.size()) + param_value_bound(p.value);
  return n;
}

void write_merged_parameters(TextWriter& w, std::span<const Member> own, std::span<const ParamRef> extra) {
  char* const mark = w.cursor();
  w.put(",\"parameters\":{");
  bool first = true;
  for (const Member& m : own) {
    if (replaced(m.key, extra)) continue;
    if (!first) w.put(',');
    first = false;
    w.put('"');
    w.put(m.key);
    w.put("\":");
    w.put(m.value);
  }
  for (const ParamRef& p : extra) {
    if (!first) w.put(',');
    first = false;
    w.json_string(p.key);
    w.put(':');
    write_param_value(w, p.value);
  }
  if (first) w.cursor() = mark;
  else w.put('}');
}

// What the splice keeps of a checked header: the target's own parameters, and every member the
// edit does not touch, as written.
struct Layout {
  std::vector<Member> own_params;
  std::vector<Member> kept;
};

Status lay_out(std::string_view json, Layout& l) {
  std::vector<Member> top;
  top.reserve(8);  // id, model_name, model_version, parameters, outputs: one allocation
  if (!Scanner(json).members(top)) return InvalidArgument("the response header cannot be scanned");
  const Member* params = nullptr;
  for (size_t i = 0; i < top.size(); ++i) {
    // The decoder reads the first of repeated keys, the scanner would have to pick one: refuse.
    for (size_t j = 0; j < i; ++j)
      if (top[j].key == top[i].key && is_edited(top[i].key)) return Unimplemented("repeated key");
    if (top[i].key == "parameters") params = &top[i];
    else if (!is_edited(top[i].key)) l.kept.push_back(top[i]);
  }
  if (params != nullptr && !Scanner(params->value).members(l.own_params))
    return InvalidArgument("the response parameters cannot be scanned");
  return Status::Ok();
}

// Texts to put back into a header laid out with its data arrays emptied: fill[k] goes at
// holes[k], an offset into `text`, the header the layout's views point into.
struct Holes {
  std::string_view text;
  std::span<const size_t> holes;
  std::span<const std::string_view> fill;
};

// The edited header, written in one go (core/text_writer.h): its bound is the opening, the
// parameters and every kept member with what goes into its holes.
void append_header(std::string& out, const HeaderEdit& edit, const Layout& l, const Holes& h = {}) {
  size_t bound = open_response_bound(edit.id, edit.model_name, edit.model_version) +
                 merged_parameters_bound(l.own_params, edit.extra) + 1;
  for (const Member& m : l.kept) bound += 4 + m.key.size() + m.value.size();
  for (std::string_view f : h.fill) bound += f.size();
  TextWriter w(out, bound);
  write_open_response(w, edit.id, edit.model_name, edit.model_version);
  write_merged_parameters(w, l.own_params, edit.extra);
  size_t k = 0;
  for (const Member& m : l.kept) {
    w.put(",\"");
    w.put(m.key);
    w.put("\":");
    std::string_view rest = m.value;
    if (k < h.holes.size()) {
      // Holes lie inside kept members, in order (checked when the layout was remembered).
      size_t at = static_cast<size_t>(m.value.data() - h.text.data());
      const size_t end = at + m.value.size();
      for (; k < h.holes.size() && h.holes[k] < end; ++k) {
        w.put(rest.substr(0, h.holes[k] - at));
        w.put(h.fill[k]);
        rest.remove_prefix(h.holes[k] - at);
        at = h.holes[k];
      }
    }
    w.put(rest);
  }
  w.put('}');
}

// A JSON answer's layout made on its header with the data arrays emptied (hollow.h), for
// answers that differ only in those arrays' contents (and the id): where each array's contents
// go back (offsets into `text`, the memo's copy), and what the check reads them as.
struct JsonLayout {
  std::string_view text;
  Layout layout;
  std::vector<size_t> holes;
  std::vector<DataType> types;
  std::vector<Shape> shapes;
};

// Each array's contents read as the check reads its output's data (read_json_numbers agrees with
// read_json_data where it answers at all); false sends the answer down the full check.
bool numbers_fit(const JsonLayout& jl, std::span<const std::string_view> texts) {
  if (texts.size() != jl.holes.size()) return false;
  thread_local Tensor scratch;
  for (size_t k = 0; k < texts.size(); ++k) {
    scratch.datatype = jl.types[k];
    scratch.shape = jl.shapes[k];
    const bool fit = read_json_numbers(texts[k], scratch);
    // The memo is for small answers; a large one's data is not kept around.
    if (scratch.data.capacity() > 4096) std::string().swap(scratch.data);
    if (!fit) return false;
  }
  return true;
}

// Remembers a JSON answer that passed the check, laid out on its hollowed header, when the emptied
// arrays are exactly the outputs' data, in order: each output has one `data` member, written
// without escapes, an array, emptied; nothing else was emptied; and each reads alike by both
// readers. Anything else — a scalar `data`, an escaped or repeated key, a `data` array elsewhere —
// could let a later answer's contents be read as another output's, so it is not remembered.
// `texts` are the arrays' contents (views into json).
void remember_json(HeaderMemo<JsonLayout>& memo, std::string_view json, std::string_view hollowed,
                   std::span<const std::string_view> texts, const std::vector<Tensor>& outputs) {
  if (texts.size() != outputs.size() || hollowed.size() > HeaderMemo<JsonLayout>::kMaxHeader) return;
  Tensor scratch;
  for (size_t k = 0; k < texts.size(); ++k) {
    scratch.datatype = outputs[k].datatype;
    scratch.shape = outputs[k].shape;
    if (!read_json_numbers(texts[k], scratch) || scratch.data != outputs[k].data) return;
  }
  Layout l;
  if (!lay_out(hollowed, l).ok()) return;
  const Member* listed = nullptr;
  for (const Member& m : l.kept) {
    if (m.key != "outputs") continue;
    if (listed != nullptr) return;
    listed = &m;
  }
  std::vector<std::string_view> elems;
  if (listed == nullptr || !Scanner(listed->value).elements(elems) || elems.size() != texts.size()) return;
  std::vector<size_t> holes;
  size_t removed = 0;
  for (size_t k = 0; k < elems.size(); ++k) {
    std::vector<Member> members;
    if (!Scanner(elems[k]).members(members)) return;  // keys with escapes included
    const Member* data = nullptr;
    for (const Member& m : members) {
      if (m.key != "data") continue;
      if (data != nullptr) return;
      data = &m;
    }
    if (data == nullptr || data->value != "[]") return;
    const auto at = static_cast<size_t>(data->value.data() + 1 - hollowed.data());
    // Where this array's contents were cut out of json.
    if (at != static_cast<size_t>(texts[k].data() - json.data()) - removed) return;
    removed += texts[k].size();
    holes.push_back(at);
  }
  memo.add(hollowed, 0, [&](std::string_view copy, JsonLayout& v) {
    auto onto = [&](std::string_view x) { return copy.substr(static_cast<size_t>(x.data() - hollowed.data()), x.size()); };
    v.text = copy;
    for (const Member& mm : l.own_params) v.layout.own_params.push_back({onto(mm.key), onto(mm.value)});
    for (const Member& mm : l.kept) v.layout.kept.push_back({onto(mm.key), onto(mm.value)});
    v.holes = holes;
    for (const Tensor& t : outputs) {
      v.types.push_back(t.datatype);
      v.shapes.push_back(t.shape);
    }
    return true;
  });
}

bool listed(std::string_view key, const std::vector<std::string>& keys) {
  for (const std::string& k : keys)
    if (k == key) return true;
  return false;
}

}  // namespace

Result<Encoded> remove_request_parameters(std::string_view body,
                                          std::optional<std::string_view> header_length,
                                          const std::vector<std::string>& keys) {
  Result<size_t> json_len = forwarded_json_length(body, header_length);
  if (!json_len.ok()) return json_len.status();
  const std::string_view json = body.substr(0, *json_len);
  std::vector<Member> top;
  top.reserve(8);
  if (!Scanner(json).members(top)) return InvalidArgument("the request header cannot be scanned");
  std::string out;
  out.reserve(body.size());
  out += '{';
  bool seen_params = false;
  for (const Member& m : top) {
    if (m.key != "parameters") {
      if (out.size() > 1) out += ',';
      out += '"';
      out += m.key;
      out += "\":";
      out += m.value;
      continue;
    }
    if (seen_params) return InvalidArgument("repeated parameters");
    seen_params = true;
    std::vector<Member> params;
    params.reserve(8);
    if (!Scanner(m.value).members(params)) return InvalidArgument("the parameters cannot be scanned");
    const size_t mark = out.size();
    out += out.size() > 1 ? ",\"parameters\":{" : "\"parameters\":{";
    bool any = false;
    for (const Member& p : params) {
      if (listed(p.key, keys)) continue;
      if (any) out += ',';
      any = true;
      out += '"';
      out += p.key;
      out += "\":";
      out += p.value;
    }
    if (any) out += '}';
    else out.resize(mark);
  }
  out += '}';
  if (!header_length) return Encoded{std::move(out), std::nullopt};
  const size_t new_json_length = out.size();
  out += body.substr(*json_len);
  return Encoded{std::move(out), new_json_length};
}

Result<Encoded> splice_response_header(std::string_view body,
                                       std::optional<std::string_view> header_length,
                                       const HeaderEdit& edit) {
  Result<size_t> json_len = forwarded_json_length(body, header_length);
  if (!json_len.ok()) return json_len.status();
  const std::string_view json = body.substr(0, *json_len);
  const std::string_view bin = body.substr(*json_len);
  // A header that passed the check with a binary section of this length passes again, and lays
  // out the same (header_memo.h): the check reads only the header and that length when every
  // output is raw and not BYTES (Checked::header_decides).
  thread_local HeaderMemo<Layout> memo;
  const std::optional<HeaderKey> key = header_length ? header_key(json) : std::nullopt;
  // A JSON answer is looked up with its data arrays emptied: a target's answers differ in those
  // and the id only. The arrays' contents are read again as the check would read them.
  thread_local HeaderMemo<JsonLayout> json_memo;
  thread_local std::string t_hollow;
  thread_local std::vector<std::string_view> t_texts;
  const bool hollowed = !header_length && json.size() <= kMaxRemembered &&
                        hollow_data_arrays(json, t_hollow, &t_texts) && !t_texts.empty();
  if (hollowed) {
    const std::optional<HeaderKey> jkey = header_key(t_hollow);
    const JsonLayout* jl = jkey ? json_memo.find(*jkey, 0) : nullptr;
    if (jl != nullptr && numbers_fit(*jl, t_texts)) {
      std::string out;
      out.reserve(json.size() + 256);
      append_header(out, edit, jl->layout, {jl->text, jl->holes, t_texts});
      return Encoded{std::move(out), std::nullopt};
    }
  }
  Layout fresh;
  const Layout* layout = key ? memo.find(*key, bin.size()) : nullptr;
  if (layout == nullptr) {
    Checked found;
    std::vector<Tensor> json_outputs;
    HIR_RETURN_IF_ERROR(check_response(json, bin, found, hollowed ? &json_outputs : nullptr));
    // The encoder makes the body binary exactly when some output is raw; a header without raw
    // outputs, or raw outputs without a header, would come out in another form.
    if (header_length.has_value() != (found.binary_outputs > 0))
      return Unimplemented("the answer's form would change");
    HIR_RETURN_IF_ERROR(lay_out(json, fresh));
    layout = &fresh;
    if (hollowed) remember_json(json_memo, json, t_hollow, t_texts, json_outputs);
    if (key && found.header_decides) {
      // The memo keeps its own copy of the header: the layout just made, moved onto it.
      memo.add(json, bin.size(), [&fresh, json](std::string_view copy, Layout& l) {
        auto onto = [&](std::string_view v) { return copy.substr(static_cast<size_t>(v.data() - json.data()), v.size()); };
        for (const Member& m : fresh.own_params) l.own_params.push_back({onto(m.key), onto(m.value)});
        for (const Member& m : fresh.kept) l.kept.push_back({onto(m.key), onto(m.value)});
        return true;
      });
    }
  }
  std::string out;
  out.reserve(body.size() + 256);
  append_header(out, edit, *layout);
  if (!header_length) return Encoded{std::move(out), std::nullopt};
  const size_t new_json_length = out.size();
  out += bin;
  return Encoded{std::move(out), new_json_length};
}

}  // namespace hir::protocol
