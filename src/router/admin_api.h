// The admin API under /v1/admin/ (docs/store.md "Admin API"): lists and edits the registry in the
// store, and shows the usage ledger's counters. Transport-free: HttpRequest in, HttpResponse out.
//
// Access: `Authorization: Bearer <key>` where the key is HIR_ADMIN_KEY. No key configured: every
// call is refused with 403 (the API is off); a missing or wrong key: 401. Keys are compared in
// constant time and never logged. Store calls run on the calling I/O thread: each is one small
// transaction, which is why the API is for operators, not for traffic.
//
// Thread-safety: handle() may be called from any thread (the store serializes its own calls).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "net/http.h"
#include "store/ledger.h"
#include "store/store.h"

namespace hir::router {

class AdminApi {
 public:
  // Rebuilds the routing core after a change made here, so this replica needs no poll to see it.
  using Reload = std::function<Status()>;
  using LedgerStats = std::function<std::optional<store::LedgerCounters>()>;

  // store: null when hir serve runs without a database (every call then answers 503). key: ""
  // disables the API.
  AdminApi(store::Store* store, std::string key, Reload reload, LedgerStats ledger);

  net::HttpResponse handle(const net::HttpRequest& req);
  // The 403 (no key configured) or 401 (missing or wrong key) that handle() would answer, checked
  // without the store: a caller that queues store work checks this first, so that requests
  // without the key never take a place in that queue.
  std::optional<net::HttpResponse> refused(const net::HttpRequest& req) const;
  // Logs admin_refused for an answer >= 400 to a call that asked for a change (any method but
  // GET): the method, the path, the status and the answer's reason, never the request's body.
  static void log_refused(std::string_view method, std::string_view target, const net::HttpResponse& answer);

 private:
  net::HttpResponse route(const net::HttpRequest& req, std::string_view rest);
  net::HttpResponse targets(const net::HttpRequest& req, std::string_view name, std::string_view action);
  net::HttpResponse variants(const net::HttpRequest& req, std::string_view model, std::string_view name,
                             std::string_view action);
  // One accepted change, for its admin_change log line.
  struct Change {
    std::string_view action;    // create, update, delete
    std::string_view kind;      // target, variant
    std::string_view model;     // a variant's model; "" for a target
    std::string_view name;
    std::string before, after;  // the record's JSON before and after ("" where there is none)
  };
  // The answer to a successful change: {"registry_version":N}, with "<key>":<c.after> when key
  // is given; logs the change with that version.
  net::HttpResponse changed(int status, std::string_view key, const Change& c);

  store::Store* store_;
  std::string key_;
  Reload reload_;
  LedgerStats ledger_;
};

// True when `authorization` is exactly "Bearer <key>"; the time taken depends only on the lengths.
bool admin_key_matches(std::string_view authorization, std::string_view key);

// JSON bodies of the admin API, with the record's field names (docs/configuration.md). `base` is
// what fields absent from the body keep (defaults on create, the stored record on update).
// Errors are kInvalidArgument naming the field.
Result<store::TargetRecord> parse_target_body(std::string_view body, store::TargetRecord base);
Result<store::VariantRecord> parse_variant_body(std::string_view body, store::VariantRecord base);
std::string target_json(const store::TargetRecord& t);
std::string variant_json(const store::VariantRecord& v);

// What a change did to a record, from its JSON before ("" for a new one) and after: the names of
// the members that are new or differ ("url,concurrency") and those members with their new values
// as a JSON object. Records hold no secret (a token is named by its variable, never held), so
// the values can be logged.
struct FieldChanges {
  std::string names;
  std::string values;
};
FieldChanges changed_fields(std::string_view before_json, std::string_view after_json);

}  // namespace hir::router
