#include "router/hints.h"

#include <charconv>
#include <string>

namespace hir::router {
namespace {

struct HintName {
  std::string_view param;
  std::string_view header;
};

constexpr HintName kBudget{"latency_budget_ms", "x-hir-latency-budget-ms"};
constexpr HintName kPriority{"priority", "x-hir-priority"};
constexpr HintName kComplexity{"complexity", "x-hir-complexity"};
constexpr HintName kMinAccuracy{"min_accuracy", "x-hir-min-accuracy"};
constexpr HintName kMaxCost{"max_cost_usd", "x-hir-max-cost-usd"};

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A bound as a user would write it: the shortest text that reads back as the same double
// ("0.001", "3600000"), not std::to_string's six fixed decimals ("0.001000", "3600000.000000").
std::string number_text(double v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

// A numeric hint: absent (nullopt inside ok), a number, or an error naming the hint.
Result<std::optional<double>> number_hint(const Parameters& params, const net::Headers& headers,
                                          const HintName& name, double lo, double hi) {
  std::optional<double> v;
  if (auto it = params.find(name.param); it != params.end()) {
    v = param_number(params, name.param);
    if (!v) return InvalidArgument("parameter '" + std::string(name.param) + "' must be a number");
  } else if (auto h = headers.get(name.header)) {
    v = parse_double(*h);
    if (!v) return InvalidArgument("header '" + std::string(name.header) + "' must be a number");
  }
  if (v && !(*v >= lo && *v <= hi))
    return InvalidArgument("hint '" + std::string(name.param) + "' is out of range [" +
                           number_text(lo) + ", " + number_text(hi) + "]");
  return v;
}

Result<Priority> priority_hint(const Parameters& params, const net::Headers& headers) {
  std::optional<std::string> s;
  if (auto it = params.find(kPriority.param); it != params.end()) {
    if (!std::holds_alternative<std::string>(it->second)) return Priority::kStandard;  // Triton's
    s = std::get<std::string>(it->second);
  } else if (auto h = headers.get(kPriority.header)) {
    s = std::string(*h);
  }
  if (!s) return Priority::kStandard;
  if (auto p = routing::parse_priority(*s)) return *p;
  return InvalidArgument("priority " + quote(*s) + " is not one of critical, standard, sheddable");
}

}  // namespace

namespace {

// Calls fn(it) for each of hir's hints among params.
template <typename Map, typename Fn>
void each_hint(Map& params, Fn&& fn) {
  if (params.empty()) return;  // most requests: spares five lookups
  for (const auto* name : {&kBudget, &kComplexity, &kMinAccuracy, &kMaxCost})
    if (auto it = params.find(name->param); it != params.end()) fn(it);
  if (auto it = params.find(kPriority.param); it != params.end() && std::holds_alternative<std::string>(it->second))
    fn(it);
}

}  // namespace

size_t count_hints(const Parameters& params, std::vector<std::string>* keys) {
  size_t n = 0;
  each_hint(params, [&](Parameters::const_iterator it) {
    if (keys) keys->push_back(it->first);
    ++n;
  });
  return n;
}

size_t strip_hints(Parameters& params, std::vector<std::string>* removed) {
  size_t n = 0;
  each_hint(params, [&](Parameters::iterator it) {
    if (removed) removed->push_back(it->first);
    params.erase(it);  // map::erase takes no heterogeneous key before C++23
    ++n;
  });
  return n;
}

namespace {

// True when some header could be a hint (its name starts with "x-hir-", in any case): most
// requests carry none, and one pass over the names spares the five lookups below (~500
// instructions a request).
bool has_hint_header(const net::Headers& headers) {
  constexpr std::string_view kPrefix = "x-hir-";
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (const auto [name, value] : headers) {
    if (name.size() <= kPrefix.size()) continue;
    size_t i = 0;
    while (i < kPrefix.size() && lower(name[i]) == kPrefix[i]) ++i;
    if (i == kPrefix.size()) return true;
  }
  return false;
}

}  // namespace

Result<RequestHints> parse_hints(const Parameters& params, const net::Headers& all_headers) {
  static const net::Headers kNone;
  const bool in_headers = has_hint_header(all_headers);
  RequestHints h;
  // Most requests carry no hint at all: the defaults, without five lookups (~500 instructions).
  if (params.empty() && !in_headers) return h;
  const net::Headers& headers = in_headers ? all_headers : kNone;
  auto budget = number_hint(params, headers, kBudget, 1e-3, 3.6e6);
  if (!budget.ok()) return budget.status();
  if (*budget) h.latency_budget = from_ms(**budget);

  auto prio = priority_hint(params, headers);
  if (!prio.ok()) return prio.status();
  h.priority = *prio;

  auto cx = number_hint(params, headers, kComplexity, 0, 1);
  if (!cx.ok()) return cx.status();
  if (*cx) h.complexity = **cx;

  auto acc = number_hint(params, headers, kMinAccuracy, 0, 1);
  if (!acc.ok()) return acc.status();
  h.min_accuracy = *acc;

  auto cost = number_hint(params, headers, kMaxCost, 0, 1e6);
  if (!cost.ok()) return cost.status();
  if (*cost) h.max_cost = Money::from_usd(**cost);
  return h;
}

}  // namespace hir::router
