// Internal to src/protocol: hand-written JSON appends for the encoders (std::to_chars, no DOM).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "core/text_writer.h"

namespace hir::protocol::detail {

void append_int(std::string& out, int64_t v);
void append_uint(std::string& out, uint64_t v);
// Shortest text that reads back as the same float / double (std::to_chars). Callers handle
// NaN and infinity, which JSON cannot carry.
void append_float(std::string& out, float v);
void append_double(std::string& out, double v);
// [1,4]; `first`, when >= 0, is written in place of shape[0] (the rows of an answer cut from a
// merged one).
void append_shape(std::string& out, std::span<const int64_t> shape, int64_t first = -1);
// "key": with the key escaped; comma handling stays with the caller.
void append_key(std::string& out, std::string_view key);
// One parameter value, as append_parameters writes it.
void append_param_value(std::string& out, const ParamValue& v);
void append_param_value(std::string& out, const ParamView& v);
// The same for a writer sized beforehand: at most param_value_bound(v) bytes.
size_t param_value_bound(const ParamView& v);
void write_param_value(TextWriter& w, const ParamView& v);
// A response's opening: {"id":…,"model_name":…,"model_version":… — the id and the version only
// when not empty, as the encoder writes them.
void open_response(std::string& out, std::string_view id, std::string_view model_name,
                   std::string_view model_version);
// The same for a writer sized beforehand: at most open_response_bound(...) bytes.
size_t open_response_bound(std::string_view id, std::string_view model_name, std::string_view model_version);
void write_open_response(TextWriter& w, std::string_view id, std::string_view model_name,
                         std::string_view model_version);

}  // namespace hir::protocol::detail
