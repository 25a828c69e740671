// Fresh databases for the store tests: SQLite files in a temporary directory, and databases on a
// real PostgreSQL server that the test process starts once (initdb into a temporary directory,
// postgres on a free loopback port) and stops when the test program ends.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace hir::store::testing {

// The backends every store test runs against.
inline const char* const kBackends[] = {"sqlite", "postgres"};

// A URL naming a new, empty database of `backend`. "" with *skip set when PostgreSQL cannot be
// used here (its binaries are missing); a server that fails to start is a test failure.
std::string fresh_database_url(const std::string& backend, std::string* skip);

// Closes every server-side connection to the PostgreSQL database `url` names (as a server restart
// or a network cut would); false when that could not be done.
bool pg_drop_connections(const std::string& url);

// A new empty directory under the test's temporary root (removed when the program ends).
std::string temp_dir();

// Test-name suffix for value-parameterized suites.
inline std::string backend_name(const ::testing::TestParamInfo<const char*>& info) {
  return info.param;
}

}  // namespace hir::store::testing

// Opens a fresh store of the suite's backend in `var`, or skips the test when the backend is
// unavailable.
#define HIR_FRESH_STORE_URL(var, backend)                                             \
  std::string var;                                                                    \
  do {                                                                                \
    std::string skip_;                                                                \
    var = ::hir::store::testing::fresh_database_url(backend, &skip_);                 \
    if (var.empty() && !skip_.empty()) GTEST_SKIP() << skip_;                         \
    ASSERT_FALSE(var.empty()) << "could not create a " << (backend) << " database";   \
  } while (0)
