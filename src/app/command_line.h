// The command line of each executable, parsed alike.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

namespace hir::app {

// Parses argv into app. nullopt: go on; else the status to exit with after CLI11 printed its
// text: 0 for --help and --version, 2 for a usage error (an unknown option, a file that does not
// exist), as for a bad configuration, rather than CLI11's own codes (105, 109, ...).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
}

}  // namespace hir::app
