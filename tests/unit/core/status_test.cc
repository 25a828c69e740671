#include "core/status.h"

#include <gtest/gtest.h>

#include <string>

namespace hir {
namespace {

TEST(Quoted, ShortTextIsQuotedWhole) {
  EXPECT_EQ(quote("INPUT0"), "'INPUT0'");
  EXPECT_EQ(quote(""), "''");
  EXPECT_EQ(clip("v1"), "v1");
  const std::string at_limit(kQuoteMax, 'x');
  EXPECT_EQ(quote(at_limit), "'" + at_limit + "'");
}

// A client's 3 MB name must not become a 3 MB error message (and log line).
TEST(Quoted, LongTextIsCutAndItsSizeSaid) {
  const std::string big(3 << 20, 'P');
  const std::string q = quote(big);
  EXPECT_EQ(q, "'" + std::string(kQuoteMax, 'P') + "...' (3145728 bytes)");
  EXPECT_EQ(clip(big), std::string(kQuoteMax, 'P') + "... (3145728 bytes)");
}

TEST(Quoted, ACutNeverSplitsACharacter) {
  // "é" is two bytes: with one byte of padding, a character straddles the cut.
  std::string s = "a";
  while (s.size() < 2 * kQuoteMax) s += "\xc3\xa9";
  const std::string q = quote(s);
  const std::string kept = q.substr(1, q.find("...") - 1);
  EXPECT_EQ(kept.size(), kQuoteMax - 1);  // the straddling character is left out whole
  EXPECT_EQ(kept.back(), '\xa9');
}

}  // namespace
}  // namespace hir
