// The report as a table for people, JSON for programs and CSV (metric,value) for spreadsheets.
// All three carry the same figures; money is printed exactly from its nano-dollar count.
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "core/json_string.h"
#include "store/report.h"

namespace hir::store {
namespace {

const std::string kNa = "n/a";  // a figure that is not defined: a rate over no requests, say

// "$0.000012345": exact, nine decimals (one nano-dollar is the unit).
std::string usd(Money m) {
  int64_t n = m.nano();
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s$%lld.%09lld", n < 0 ? "-" : "",
                static_cast<long long>(std::llabs(n) / 1000000000),
                static_cast<long long>(std::llabs(n) % 1000000000));
  return buf;
}

// The same amount as a bare decimal (JSON and CSV).
std::string usd_number(Money m) {
  std::string s = usd(m);
  s.erase(s.find('$'), 1);
  return s;
}

std::string num(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pct(double share) { return fixed(share * 100, 2) + " %"; }

std::string window(const Report& r) {
  if (r.requests == 0) return "no requests";
  return format_utc(r.first_ms) + " .. " + format_utc(r.last_ms);
}

std::string table(const Report& r) {
  std::string o;
  auto line = [&](const std::string& k, const std::string& v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %-26s ", k.c_str());
    o += buf + v + "\n";
  };
  o += "hir usage report\n";
  line("model", r.model.empty() ? "all" : r.model);
  line("since", r.since_ms > 0 ? format_utc(r.since_ms) : "the start of the ledger");
  line("requests seen", window(r));
  line("requests", std::to_string(r.requests));
  // A rate over no requests, a latency of none, a price per no success: not defined (n/a).
  const bool any = r.requests > 0;
  line("success rate", any ? pct(r.success_rate) + "  (" + std::to_string(r.ok) + " ok)" : kNa);
  line("fallback rate", any ? pct(r.fallback_rate) + "  (" + std::to_string(r.with_fallback) + " fell back)" : kNa);
  line("cache", std::to_string(r.cache_hits) + " hit, " + std::to_string(r.cache_stale) + " stale");
  line("latency p50 / p95 / p99", any ? fixed(r.p50_ms, 1) + " / " + fixed(r.p95_ms, 1) + " / " +
                                            fixed(r.p99_ms, 1) + " ms"
                                      : kNa);
  line("cost total", usd(r.cost_total));
  line("cost per inference", r.ok > 0 ? usd(r.cost_per_inference) : kNa + "  (no successful request)");
  o += "  requests by target class\n";
  for (const auto& [cls, s] : r.by_class) {
    line("  " + cls, std::to_string(s.requests) + "  (" + pct(s.share) + ")");
  }
  line("edge share", r.served > 0 ? pct(r.edge_share) + " of successful inferences" : kNa);
  line("edge utilization", r.edge_utilization
                               ? pct(*r.edge_utilization) + "  (busy " + fixed(r.edge_busy_ms, 1) +
                                     " ms over " + std::to_string(r.edge_slots) + " slots)"
                               : std::string("n/a (no edge capacity or empty window)"));
  line("cloud-only cost", usd(r.cloud_only_cost) + " for " + std::to_string(r.comparable) +
                              " comparable requests (actual " + usd(r.comparable_cost) + ")");
  if (r.unpriced > 0) line("without a cloud price", std::to_string(r.unpriced) + " requests (left out)");
  line("cost reduction vs cloud", r.cost_reduction ? pct(*r.cost_reduction) : kNa);
  return o;
}

std::string json(const Report& r) {
  std::string o = "{";
  auto key = [&](const char* k) {
    if (o.size() > 1 && o.back() != '{') o += ',';
    append_json_string(o, k);
    o += ':';
  };
  auto str = [&](const char* k, const std::string& v) { key(k); append_json_string(o, v); };
  auto raw = [&](const char* k, const std::string& v) { key(k); o += v; };
  if (r.model.empty()) raw("model", "null"); else str("model", r.model);
  if (r.since_ms > 0) str("since", format_utc(r.since_ms)); else raw("since", "null");
  if (r.requests > 0) {
    str("first", format_utc(r.first_ms));
    str("last", format_utc(r.last_ms));
  }
  raw("requests", std::to_string(r.requests));
  raw("ok", std::to_string(r.ok));
  const bool any = r.requests > 0;  // undefined figures are null (docs/report.md)
  raw("success_rate", any ? num(r.success_rate) : "null");
  raw("with_fallback", std::to_string(r.with_fallback));
  raw("fallback_rate", any ? num(r.fallback_rate) : "null");
  raw("cache_hits", std::to_string(r.cache_hits));
  raw("cache_stale", std::to_string(r.cache_stale));
  raw("latency_ms", any ? "{\"p50\":" + num(r.p50_ms) + ",\"p95\":" + num(r.p95_ms) + ",\"p99\":" + num(r.p99_ms) + "}"
                        : std::string("null"));
  raw("cost_total_usd", usd_number(r.cost_total));
  raw("cost_per_inference_usd", r.ok > 0 ? usd_number(r.cost_per_inference) : "null");
  key("by_class");
  o += '{';
  bool first = true;
  for (const auto& [cls, s] : r.by_class) {
    if (!first) o += ',';
    first = false;
    append_json_string(o, cls);
    o += ":{\"requests\":" + std::to_string(s.requests) + ",\"share\":" + num(s.share) + "}";
  }
  o += '}';
  raw("edge_share", r.served > 0 ? num(r.edge_share) : "null");
  raw("edge_utilization", r.edge_utilization ? num(*r.edge_utilization) : "null");
  raw("edge_busy_ms", num(r.edge_busy_ms));
  raw("edge_slots", std::to_string(r.edge_slots));
  raw("comparable_requests", std::to_string(r.comparable));
  raw("unpriced_requests", std::to_string(r.unpriced));
  raw("comparable_cost_usd", usd_number(r.comparable_cost));
  raw("cloud_only_cost_usd", usd_number(r.cloud_only_cost));
  raw("cost_reduction", r.cost_reduction ? num(*r.cost_reduction) : "null");
  o += "}\n";
  return o;
}

// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180 §2).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv(const Report& r) {
  std::string o = "metric,value\n";
  auto row = [&](const std::string& k, const std::string& v) { o += csv_field(k) + "," + csv_field(v) + "\n"; };
  row("model", r.model);
  row("since", r.since_ms > 0 ? format_utc(r.since_ms) : "");
  row("first", r.requests ? format_utc(r.first_ms) : "");
  row("last", r.requests ? format_utc(r.last_ms) : "");
  row("requests", std::to_string(r.requests));
  row("ok", std::to_string(r.ok));
  const bool any = r.requests > 0;  // undefined figures are empty
  row("success_rate", any ? num(r.success_rate) : "");
  row("with_fallback", std::to_string(r.with_fallback));
  row("fallback_rate", any ? num(r.fallback_rate) : "");
  row("cache_hits", std::to_string(r.cache_hits));
  row("cache_stale", std::to_string(r.cache_stale));
  row("latency_p50_ms", any ? num(r.p50_ms) : "");
  row("latency_p95_ms", any ? num(r.p95_ms) : "");
  row("latency_p99_ms", any ? num(r.p99_ms) : "");
  row("cost_total_usd", usd_number(r.cost_total));
  row("cost_per_inference_usd", r.ok > 0 ? usd_number(r.cost_per_inference) : "");
  for (const auto& [cls, s] : r.by_class) {
    row("class." + cls + ".requests", std::to_string(s.requests));
    row("class." + cls + ".share", num(s.share));
  }
  row("edge_share", r.served > 0 ? num(r.edge_share) : "");
  row("edge_utilization", r.edge_utilization ? num(*r.edge_utilization) : "");
  row("edge_busy_ms", num(r.edge_busy_ms));
  row("edge_slots", std::to_string(r.edge_slots));
  row("comparable_requests", std::to_string(r.comparable));
  row("unpriced_requests", std::to_string(r.unpriced));
  row("comparable_cost_usd", usd_number(r.comparable_cost));
  row("cloud_only_cost_usd", usd_number(r.cloud_only_cost));
  row("cost_reduction", r.cost_reduction ? num(*r.cost_reduction) : "");
  return o;
}

}  // namespace

std::string render_report(const Report& r, ReportFormat f) {
  switch (f) {
    case ReportFormat::kJson: return json(r);
    case ReportFormat::kCsv: return csv(r);
    case ReportFormat::kTable: break;
  }
  return table(r);
}

}  // namespace hir::store
