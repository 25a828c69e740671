#include <charconv>
#include <cstdlib>

#include "store/sql_db.h"

namespace hir::store {

int64_t SqlRow::i64(size_t i) const {
  const SqlValue& v = cells_.at(i);
  if (const auto* x = std::get_if<int64_t>(&v)) return *x;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&v)) {
    int64_t out = 0;
    std::from_chars(s->data(), s->data() + s->size(), out);
    return out;
  }
  return 0;
}

double SqlRow::f64(size_t i) const {
  const SqlValue& v = cells_.at(i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* x = std::get_if<int64_t>(&v)) return static_cast<double>(*x);
  if (const auto* s = std::get_if<std::string>(&v)) {
    // strtod rather than from_chars: PostgreSQL may spell infinities and NaN as words.
    return std::strtod(s->c_str(), nullptr);
  }
  return 0;
}

std::string SqlRow::text(size_t i) const {
  const SqlValue& v = cells_.at(i);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* x = std::get_if<int64_t>(&v)) return std::to_string(*x);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

}  // namespace hir::store
