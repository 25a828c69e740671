#include "store/report_cmd.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "store/report.h"
#include "store/store.h"

namespace hir::store {

std::string default_database_url() {
  const char* env = std::getenv("DATABASE_URL");
  return env && *env ? env : "sqlite://hir.db";
}

int run_report(const ReportCommandOptions& o) {
  // 2 for what the command line got wrong (a usage error, as in every hir command), 1 for what
  // the database did.
  auto fail = [](const Status& s, int code = 1) {
    std::fprintf(stderr, "hir report: %s\n", s.message().c_str());
    return code;
  };
  auto format = parse_report_format(o.format);
  if (!format.ok()) return fail(format.status(), 2);
  UsageQuery q;
  q.model = o.model;
  if (!o.since.empty()) {
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    auto since = parse_since(o.since, now_ms);
    if (!since.ok()) return fail(since.status(), 2);
    q.since_ms = *since;
  }
  std::string url = o.database_url.empty() ? default_database_url() : o.database_url;
  auto parsed = parse_database_url(url);
  if (!parsed.ok()) return fail(parsed.status(), 2);
  // A report never creates a database: a mistyped path should say so, not print zeros.
  std::error_code ec;
  if (parsed->backend == "sqlite" && parsed->target != ":memory:" &&
      !std::filesystem::exists(parsed->target, ec)) {
    return fail(NotFound("no database at '" + parsed->target +
                         "' (give --database or set DATABASE_URL)"));
  }
  // A report writes nothing: it opens read-only, so a read-only role or file will do, and it
  // migrates nothing (an older schema is refused, saying that hir serve migrates it).
  OpenOptions ro;
  ro.read_only = true;
  auto store = open_store(url, ro);
  if (!store.ok()) return fail(store.status());
  auto registry = (*store)->load_registry();
  if (!registry.ok()) return fail(registry.status());
  auto records = (*store)->query_usage(q);
  if (!records.ok()) return fail(records.status());
  if (records->empty() && !o.model.empty()) {
    // An empty report for a name the registry does not know is most often a typo: say so.
    const auto& ms = registry->models;
    if (std::none_of(ms.begin(), ms.end(), [&](const ModelRecord& m) { return m.name == o.model; })) {
      std::string known;
      for (const auto& m : ms) known += (known.empty() ? "" : ", ") + m.name;
      std::fprintf(stderr, "hir report: no request for model '%s', which the registry does not hold (it holds: %s)\n",
                   o.model.c_str(), known.empty() ? "none" : known.c_str());
    }
  }
  Report r = compute_report(*records, *registry, q.since_ms, o.model);
  std::string text = render_report(r, *format);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace hir::store
