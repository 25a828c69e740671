// A few JSON headers already read, per owner (each I/O thread keeps its own), so that a header
// seen again is not read again. A client sends each request of a model with the same JSON header
// but for the request id, and a target answers with the same header too; reading one (simdjson,
// every field checked) costs the router more than any other step of a proxied request
// (docs/perf/proxy.md).
//
// The key is the header's bytes with a leading id string left out, and the length of the binary
// section after it: a reader whose result depends on nothing else (the raw tensors' bytes are
// only counted) gives the same result for every header with the same key, but for the id. The
// id is left out only when the header starts with it (`{"id":"`, spaces allowed) and the string
// holds printable ASCII without quote or backslash, which decodes to itself; any other id stays
// in the key.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hir::protocol {

// A header's key: whether it starts with an id string, the id's text, and what must match.
struct HeaderKey {
  bool has_id = false;
  std::string_view id;
  std::string_view rest;
};

// The header starts with an id string when it opens `{ "id" : "` (whitespace anywhere between,
// as JSON encoders with spaced separators write it): whitespace there does not change what the
// header means, so it is not part of the key either.
inline std::optional<HeaderKey> header_key(std::string_view json) {
  auto space = [&json](size_t i) {
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) ++i;
    return i;
  };
  constexpr std::string_view kId = "\"id\"";
  size_t i = json.starts_with('{') ? space(1) : json.size();
  if (json.substr(i, kId.size()) != kId) return HeaderKey{false, {}, json};
  i = space(i + kId.size());
  if (i >= json.size() || json[i] != ':') return HeaderKey{false, {}, json};
  i = space(i + 1);
  if (i >= json.size() || json[i] != '"') return HeaderKey{false, {}, json};
  const size_t open = ++i;
  for (; i < json.size(); ++i) {
    const auto c = static_cast<unsigned char>(json[i]);
    if (c == '"') return HeaderKey{true, json.substr(open, i - open), json.substr(i)};
    if (c < 0x20 || c > 0x7e || c == '\\') return std::nullopt;
  }
  return std::nullopt;
}

// Value: what the reader made of a header. It may point into the header's stored copy, which the
// memo keeps unchanged for as long as the entry lives.
template <typename Value>
class HeaderMemo {
 public:
  static constexpr size_t kMaxHeader = 4096;  // longer headers are not kept
  static constexpr size_t kEntries = 8;       // replaced in turn

  // The value kept for a header with this key and binary section length; null when none.
  // `serial`, when given, gets the entry's: one per entry ever added to this memo, so that a
  // caller can remember what it made of a value by it (an address could be a later entry's).
  const Value* find(const HeaderKey& k, size_t bin_size, uint64_t* serial = nullptr) const {
    for (const auto& e : entries_)
      if (e && e->has_id == k.has_id && e->bin_size == bin_size && e->rest() == k.rest) {
        if (serial) *serial = e->serial;
        return &e->value;
      }
    return nullptr;
  }

  // Keeps `json`, read successfully, with the value make(stored_copy, value) builds from the
  // memo's own copy of it, and returns the value kept (valid until kEntries more are added);
  // nothing is kept, and null returned, when make returns false or the header is too long.
  template <typename Make>
  const Value* add(std::string_view json, size_t bin_size, Make&& make, uint64_t* serial = nullptr) {
    auto k = header_key(json);
    if (!k || json.size() > kMaxHeader) return nullptr;
    auto e = std::make_unique<Entry>();
    e->text.assign(json);
    e->has_id = k->has_id;
    e->rest_at = json.size() - k->rest.size();
    e->bin_size = bin_size;
    if (!make(std::string_view(e->text), e->value)) return nullptr;
    const Value* kept = &e->value;
    e->serial = next_serial_++;
    if (serial) *serial = e->serial;
    entries_[next_] = std::move(e);
    next_ = (next_ + 1) % kEntries;
    return kept;
  }

 private:
  struct Entry {
    std::string text;  // never changed once made: the value may point into it
    bool has_id = false;
    size_t rest_at = 0;
    size_t bin_size = 0;
    uint64_t serial = 0;
    Value value;
    std::string_view rest() const { return std::string_view(text).substr(rest_at); }
  };
  std::array<std::unique_ptr<Entry>, kEntries> entries_;
  size_t next_ = 0;
  uint64_t next_serial_ = 1;
};

}  // namespace hir::protocol
