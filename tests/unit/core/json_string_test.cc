#include "core/json_string.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

namespace hir {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// An oracle written the other way round: decode the code point, then check it against RFC 3629's
// rules (shortest form, no surrogates, at most U+10FFFF), escaping one byte at a time.
std::string reference(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      // RFC 8259 §7's two-character escapes, then \u00XX for the other control characters.
      static constexpr std::string_view kRaw = "\"\\\b\f\n\r\t", kShort = "\"\\bfnrt";
      if (const size_t k = kRaw.find(static_cast<char>(c)); k != std::string_view::npos) {
        out += '\\';
        out += kShort[k];
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const size_t n = c >= 0xF8 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    bool ok = n != 0 && i + n <= s.size();
    uint32_t cp = c & (0x7Fu >> n);
    for (size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kShortest[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  return out + "\"";
}

TEST(JsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(as_json(std::string("a\"b\\c\n\t\r\b\f\x01\x1f/\x7f", 14)),
            R"("a\"b\\c\n\t\r\b\f\u0001\u001f/)"
            "\x7f\"");
  const std::string nasty = std::string("quote\" back\\ nl\n tab\t cr\r nul") + '\0' + " bell\x07 end";
  EXPECT_EQ(as_json(nasty), R"("quote\" back\\ nl\n tab\t cr\r nul\u0000 bell\u0007 end")");
  EXPECT_EQ(as_json(""), R"("")");
  EXPECT_EQ(as_json(std::string_view()), R"("")");
}

TEST(JsonString, AppendsToWhatIsThere) {
  std::string out = "{\"k\":";
  append_json_string(out, "v");
  EXPECT_EQ(out, R"({"k":"v")");
}

TEST(JsonString, KeepsWellFormedUtf8) {
  EXPECT_EQ(as_json("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // The edges of RFC 3629's table, each well formed.
  for (std::string_view ok : {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
                              "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"})
    EXPECT_EQ(as_json(ok), "\"" + std::string(ok) + "\"") << ::testing::PrintToString(ok);
}

TEST(JsonString, ReplacesEachIllFormedByte) {
  // Stray, truncated before a quote, surrogate.
  EXPECT_EQ(as_json("a\xff" "b\xc3" "\"\xed\xa0\x80"), R"("a\ufffdb\ufffd\"\ufffd\ufffd\ufffd")");
  // A lone continuation byte, an overlong '/', a surrogate and a sequence cut short by the end.
  EXPECT_EQ(as_json("a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE2\x82"),
            R"("a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffdd\ufffd\ufffd")");
  // Overlong three- and four-byte forms, and code points above U+10FFFF.
  EXPECT_EQ(as_json("\xE0\x9F\xBF"), R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(as_json("\xF0\x8F\xBF\xBF"), R"("\ufffd\ufffd\ufffd\ufffd")");
  EXPECT_EQ(as_json("\xF4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
  EXPECT_EQ(as_json("\xF5\x80\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
}

// A view that ends inside a sequence whose remaining bytes lie just beyond it.
TEST(JsonString, ReadsNothingPastTheView) {
  const std::string_view buf = "\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xA9";
  EXPECT_EQ(as_json(buf.substr(0, 3)), R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(as_json(buf.substr(4, 2)), R"("\ufffd\ufffd")");
  EXPECT_EQ(as_json(buf.substr(7, 1)), R"("\ufffd")");
  EXPECT_EQ(as_json(buf.substr(0, 7)), "\"\xF0\x9F\x98\x80\xE2\x82\xAC\"");
}

// Every byte value, alone and in every pair, at every offset of an 8-byte word and in the tail.
TEST(JsonString, MatchesReferenceOnAllBytePairs) {
  const std::string pad = "0123456789abcdefghij";
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      const std::string pair{static_cast<char>(a), static_cast<char>(b)};
      const size_t at = (a + b) % 11;
      const std::string s = pad.substr(0, at) + pair + pad.substr(at);
      ASSERT_EQ(as_json(s), reference(s)) << ::testing::PrintToString(s);
    }
  }
}

// One byte that needs a closer look at every position of plain strings of every length up to past
// the short-string path's limit: the word tests' edges (the last word overlaps the one before).
TEST(JsonString, MatchesReferenceWithOneSpecialByteAnywhere) {
  for (size_t n = 1; n <= 80; ++n) {
    for (size_t at = 0; at < n; ++at) {
      for (unsigned c : {0x22u, 0x5Cu, 0x0Au, 0x01u, 0x1Fu, 0x80u, 0xC3u, 0xFFu}) {  // quote, backslash, controls, non-ASCII
        std::string s(n, 'a');
        s[at] = static_cast<char>(c);
        ASSERT_EQ(as_json(s), reference(s)) << ::testing::PrintToString(s);
      }
    }
  }
}

// Random text over an alphabet of the bytes that matter: plain ASCII, escapes and the edges of
// every UTF-8 lead and continuation range.
TEST(JsonString, MatchesReferenceOnRandomText) {
  static constexpr unsigned char kBytes[] = {
      'a',  'b',  ' ',  '~',  0x7F, '"',  '\\', '\n', 0x00, 0x1F, 0x20, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
      0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF};
  std::mt19937 rng(20240501);
  std::uniform_int_distribution<size_t> pick(0, sizeof kBytes - 1);
  std::uniform_int_distribution<size_t> length(0, 40);
  for (int iter = 0; iter < 100000; ++iter) {
    std::string s(length(rng), 'x');
    for (char& c : s) c = static_cast<char>(kBytes[pick(rng)]);
    ASSERT_EQ(as_json(s), reference(s)) << ::testing::PrintToString(s);
  }
}

// Plain strings of every short length, each byte different, so that a copy of the wrong bytes or
// of overlapping pieces put in the wrong place shows; written after text already there.
TEST(JsonString, CopiesPlainStringsOfEveryLength) {
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/+=()[]{}<>!?";
  for (size_t n = 0; n <= 72; ++n) {
    const std::string s = alphabet.substr(0, n);
    std::string out = "x";
    append_json_string(out, s);
    EXPECT_EQ(out, "x\"" + s + "\"") << n;
  }
}

TEST(JsonString, CopiesLongPlainRunsUnchanged) {
  std::string s(1000, 'z');
  s[517] = '"';
  std::string want = "\"" + s.substr(0, 517) + "\\\"" + s.substr(518) + "\"";
  EXPECT_EQ(as_json(s), want);
}

// The writer for presized output writes what append_json_string appends, and never more than
// json_string_bound: strings made only of the bytes that take six (a control character's
// \u00XX, an ill-formed byte's \ufffd), and random text, with a guard after the bound.
TEST(JsonString, WritesInPlaceWhatItAppendsWithinTheBound) {
  auto check = [](const std::string& s) {
    const size_t bound = json_string_bound(s.size());
    std::string buf(bound + 16, '#');
    char* end = write_json_string(buf.data(), s);
    ASSERT_LE(static_cast<size_t>(end - buf.data()), bound) << ::testing::PrintToString(s);
    ASSERT_EQ(std::string(buf.data(), end), reference(s)) << ::testing::PrintToString(s);
    ASSERT_EQ(buf.substr(bound), std::string(16, '#'));
  };
  for (size_t n = 0; n <= 80; ++n) {
    check(std::string(n, '\x01'));
    check(std::string(n, '\xFF'));
    check(std::string(n, 'p'));
    for (size_t at = 0; at < n; ++at) {
      for (unsigned c : {0x22u, 0x5Cu, 0x1Fu, 0x80u, 0xFFu}) {  // every word test's edges, as above
        std::string s(n, 'a');
        s[at] = static_cast<char>(c);
        check(s);
      }
    }
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 90);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(length(rng), 'x');
    for (char& c : s) c = static_cast<char>(byte(rng));
    check(s);
  }
}

}  // namespace
}  // namespace hir
