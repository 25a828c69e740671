// `hir report`: opens the store, reads the ledger window and the registry, prints the report.
#pragma once

#include <string>

namespace hir::store {

struct ReportCommandOptions {
  std::string database_url;  // "" = $DATABASE_URL, else sqlite://hir.db
  std::string since;         // "" = the whole ledger; else see parse_since (report.h)
  std::string model;         // "" = every model
  std::string format = "table";
};

// The database URL hir uses when none is given: $DATABASE_URL, else sqlite://hir.db.
std::string default_database_url();

// Prints to stdout; errors to stderr. Returns the process exit code (0, or 1 on an error).
int run_report(const ReportCommandOptions& options);

}  // namespace hir::store
