// read_json_numbers, the DOM-free reader of numeric `data`, against read_json_data, the DOM walk
// it stands in for: whenever it answers, it must answer byte for byte as the walk does, and it
// must decline whatever the walk (or simdjson before it) refuses. parse_infer_request takes it
// for ordinary bodies; a body with a backslash outside its data arrays is read the DOM way, which
// gives the whole-request comparison below a reference.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "codec_test_util.h"
#include "protocol/tensor_data.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT
using detail::read_json_data;
using detail::read_json_numbers;

constexpr DataType kNumeric[] = {DataType::kUint8, DataType::kUint16, DataType::kUint32,
                                 DataType::kUint64, DataType::kInt8, DataType::kInt16,
                                 DataType::kInt32, DataType::kInt64, DataType::kFp32,
                                 DataType::kFp64};

struct Outcome {
  bool ok = false;
  std::string data;
};

// The DOM walk's reading of `[text]` (ok false when simdjson or the walk refuses it).
Outcome by_dom(std::string_view text, DataType dt, const Shape& shape) {
  const std::string json = "{\"d\":[" + std::string(text) + "]}";
  detail::ParsedJson doc(json, "request");
  if (!doc.status().ok()) return {};
  Tensor t;
  t.name = "x";
  t.datatype = dt;
  t.shape = shape;
  if (!read_json_data(*detail::member(doc.root(), "d"), "d", t).ok()) return {};
  return {true, t.data};
}

// The text is read from a heap block of exactly its size, so that a build with AddressSanitizer
// (-fsanitize=address) reports any read past its end: the fast readers load 4, 8 or 16 bytes at
// a time, and a byte too far changes no value that a test could see.
Outcome by_text(std::string_view text, DataType dt, const Shape& shape) {
  const std::unique_ptr<char[]> exact(new char[text.size()]);
  std::memcpy(exact.get(), text.data(), text.size());
  Tensor t;
  t.name = "x";
  t.datatype = dt;
  t.shape = shape;
  if (!read_json_numbers(std::string_view(exact.get(), text.size()), t)) return {};
  return {true, t.data};
}

// Fails when the text reader answers differently from the DOM; returns whether it answered.
bool agrees(std::string_view text, DataType dt, const Shape& shape) {
  const Outcome dom = by_dom(text, dt, shape);
  const Outcome fast = by_text(text, dt, shape);
  if (fast.ok) {
    EXPECT_TRUE(dom.ok) << "accepted what the DOM refuses: [" << text << "] as "
                        << datatype_name(dt) << " " << shape_to_string(shape);
    EXPECT_EQ(fast.data, dom.data) << "[" << text << "] as " << datatype_name(dt);
  }
  return fast.ok;
}

// A spelling alone, then twice among others (`between` holds them, with the commas around
// them) and before a last 0.5, as FP32 and as FP64: each reading must be the DOM's.
void agrees_alone_and_among(std::string_view c, std::string_view between) {
  const std::string among = std::string(c) + std::string(between) + std::string(c) + ",0.5";
  const auto n = static_cast<int64_t>(1 + std::count(among.begin(), among.end(), ','));
  for (DataType dt : {DataType::kFp32, DataType::kFp64}) {
    agrees(c, dt, {1});
    agrees(among, dt, {n});
  }
}

TEST(JsonNumbers, ReadsImagesAsTheDomDoes) {
  // The pixels of a Fashion-MNIST request as clients spell them, flat and nested.
  std::string flat;
  std::string nested;
  for (int r = 0; r < 28; ++r) {
    nested += r ? ",[" : "[";
    for (int c = 0; c < 28; ++c) {
      const std::string v = (r * 28 + c) % 7 == 0 ? "0.0" : std::to_string((r * 28 + c) / 784.0);
      flat += (r || c) ? "," + v : v;
      nested += c ? "," + v : v;
    }
    nested += ']';
  }
  EXPECT_TRUE(agrees(flat, DataType::kFp32, {1, 784}));
  EXPECT_TRUE(agrees(flat, DataType::kFp64, {784}));
  EXPECT_TRUE(agrees(nested, DataType::kFp32, {28, 28}));
  EXPECT_TRUE(agrees(nested, DataType::kFp32, {784}));  // nesting not of the rank: count only
  EXPECT_FALSE(agrees(nested, DataType::kFp32, {14, 56}));  // of the rank, but not the shape
  EXPECT_TRUE(agrees(" 1 ,\t-2,\n3 , 4\r\n", DataType::kInt32, {2, 2}));
  EXPECT_TRUE(agrees("", DataType::kFp32, {0}));
  EXPECT_TRUE(agrees("[[1,2],[3,4]],[[5,6],[7,8]]", DataType::kUint8, {2, 2, 2}));
}

TEST(JsonNumbers, NumberSpellingsAndRanges) {
  // Each row: the text, the datatype, whether the text reader must take it.
  struct Case {
    const char* text;
    DataType dt;
    bool taken;
  };
  const Case cases[] = {
      {"0.1", DataType::kFp32, true},
      {"-0.0", DataType::kFp32, true},  // negative zero keeps its sign, as simdjson's double
      {"1e-3", DataType::kFp64, true},
      {"2.5E+2", DataType::kFp64, true},
      {"123456789012345678901234567890", DataType::kFp64, false},  // beyond 2^53 as an integer
      {"1.23456789012345678901234567890", DataType::kFp64, true},  // long: the library reading
      {"4.9e-324", DataType::kFp64, true},
      {"1.7976931348623157e308", DataType::kFp64, true},
      {"3.4028235e38", DataType::kFp32, true},
      {"3.5e38", DataType::kFp32, false},  // beyond FLT_MAX
      {"1e400", DataType::kFp64, false},    // simdjson refuses the whole body
      {"-0", DataType::kFp32, false},       // integer or double decides the sign: left to the DOM
      {"255", DataType::kUint8, true},
      {"256", DataType::kUint8, false},
      {"-1", DataType::kUint16, false},
      {"-128", DataType::kInt8, true},
      {"-129", DataType::kInt8, false},
      {"3.0", DataType::kInt32, false},  // accepted by the walk, left to it
      {"9223372036854775807", DataType::kInt64, true},
      {"18446744073709551615", DataType::kUint64, false},
      {"01", DataType::kInt32, false},
      {"1.", DataType::kFp32, false},
      {".5", DataType::kFp32, false},
      {"+1", DataType::kFp32, false},
      {"1e", DataType::kFp32, false},
      {"-", DataType::kFp32, false},
      {"1,", DataType::kFp32, false},
      {",1", DataType::kFp32, false},
      {"1 2", DataType::kFp32, false},
      {"NaN", DataType::kFp32, false},
      {"true", DataType::kFp32, false},
      {"\"1\"", DataType::kFp32, false},
      {"1", DataType::kBool, false},
      {"1", DataType::kBytes, false},
      {"1", DataType::kFp16, false},
  };
  for (const Case& c : cases)
    EXPECT_EQ(agrees(c.text, c.dt, {1}), c.taken) << c.text << " as " << datatype_name(c.dt);
}

// Zero before a comma, as "0.0" or "0", is read by one compare (zero_then_comma); the spellings
// beside it, that compare's near misses, must still read as the DOM reads them.
TEST(JsonNumbers, ZerosBeforeCommasReadAsTheDomReadsThem) {
  for (DataType dt : {DataType::kFp32, DataType::kFp64}) {
    EXPECT_TRUE(agrees("0.0,0,0.0, 0,-0.0,0.00,0e0,0.0", dt, {8})) << datatype_name(dt);
    EXPECT_FALSE(agrees("0.0,0.05,0,0.5,0.0,05e1", dt, {6})) << datatype_name(dt);
    EXPECT_TRUE(agrees("0.0,0.05,0,0.5,0.0,5e1", dt, {6})) << datatype_name(dt);
    EXPECT_TRUE(agrees("0,0.0,1", dt, {3})) << datatype_name(dt);
    EXPECT_FALSE(agrees("0.0,00,1", dt, {3})) << datatype_name(dt);
    EXPECT_FALSE(agrees("0.0,,1", dt, {2})) << datatype_name(dt);
    EXPECT_FALSE(agrees("0,0.0,", dt, {2})) << datatype_name(dt);
    EXPECT_FALSE(agrees("0.0,0.0", dt, {1})) << datatype_name(dt);
  }
  const Outcome got = by_text("0.0,0,-0.0,0.5", DataType::kFp32, {4});
  ASSERT_TRUE(got.ok);
  float v[4];
  ASSERT_EQ(got.data.size(), sizeof v);
  std::memcpy(v, got.data.data(), sizeof v);
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_FALSE(std::signbit(v[0]));
  EXPECT_FALSE(std::signbit(v[1]));
  EXPECT_TRUE(std::signbit(v[2]));
  EXPECT_EQ(v[3], 0.5f);
}

// Values in [0, 1) spelled "0.d…d" with up to 15 decimals are read from one or two loads
// (fraction_float); every length around those, exponents after them and bytes that end them must
// read as the DOM's.
TEST(JsonNumbers, FractionsOfOneReadAsTheDomReadsThem) {
  const char* cases[] = {"0.5",       "0.25",       "0.1234567", "0.12345678", "0.123456789",
                         "0.5e1",     "0.25E-2",    "0.0000001", "0.00000001", "0.9999999",
                         "0.",        "0.x",        "0.5.5",     "0.5-1",      "0.1234567e3",
                         "0.007",     "0.10539901", "0.7665536", "-0.5",       "00.5",
                         // Two loads: 8 to 15 decimals; from 16 on, the general reading.
                         "0.0043788864", "0.12360847", "0.123456789012345", "0.999999999999999",
                         "0.1234567890123456", "0.00000000000000001", "0.12345678e-3", "0.123456789E5",
                         "0.12345678.5", "0.1234567812x"};
  for (const char* c : cases) {
    // Among others, with the 10 or 18 bytes the one- or two-load reading needs after it.
    agrees_alone_and_among(c, ",0.3333333,");
    for (DataType dt : {DataType::kFp32, DataType::kFp64})
      agrees("[" + std::string(c) + ",0.3333333," + c + ", 0.5]", dt, {4});
  }
  EXPECT_TRUE(agrees("0.1234567,0.7665536,0.0000001,0.9999999,0.007,0.5", DataType::kFp32, {6}));
  // Exponents and long fractions are not declined: the general reading takes them.
  EXPECT_TRUE(agrees("0.5e1,0.25E-2,0.1234567e3,0.12345678,0.5", DataType::kFp32, {5}));
  EXPECT_TRUE(agrees("0.0043788864,0.10539901,0.123456789012345,0.5", DataType::kFp64, {4}));
  // Random fractions of 1 to 17 decimals (leading zeros included), each read as the DOM does.
  std::mt19937_64 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int count = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < count; ++k) {
      std::string d = std::to_string(rng() % 100000000000000000u);
      const size_t decimals = 1 + rng() % 17;
      d = d.size() >= decimals ? d.substr(0, decimals) : std::string(decimals - d.size(), '0') + d;
      text += (k ? "," : "") + ("0." + d);
    }
    for (DataType dt : {DataType::kFp32, DataType::kFp64})
      ASSERT_TRUE(agrees(text, dt, {count})) << text;
  }
  const Outcome got = by_text("0.1234567,0.7665536,0.0000001,0.0043788864,0.123456789012345,0.5",
                              DataType::kFp32, {6});
  ASSERT_TRUE(got.ok);
  float v[6];
  ASSERT_EQ(got.data.size(), sizeof v);
  std::memcpy(v, got.data.data(), sizeof v);
  EXPECT_EQ(v[0], static_cast<float>(0.1234567));
  EXPECT_EQ(v[1], static_cast<float>(0.7665536));
  EXPECT_EQ(v[2], static_cast<float>(0.0000001));
  EXPECT_EQ(v[3], static_cast<float>(0.0043788864));
  EXPECT_EQ(v[4], static_cast<float>(0.123456789012345));
  EXPECT_EQ(v[5], 0.5f);
}

// Shortest-form floats with an exponent ("1.6314436e-05", what a worker writes for a small
// probability) are read in one step (exponent_float) when short enough; around its limits (8
// decimals, 3 exponent digits, a power of ten past ±22, a zero lead) the general reading takes
// over, and every reading must be the DOM's.
TEST(JsonNumbers, ShortExponentFormsReadAsTheDomReadsThem) {
  const char* cases[] = {"1.6314436e-05", "2.2710947e-06", "1.368959e-07", "1e-05",      "-1.5e+03",
                         "9.9999999e-05", "1.5e-123",      "1.5e-23",      "1.5e-22",    "5e-22",
                         "5e-23",         "1.5E5",         "1.2345678e22", "9.9e22",     "1e+5",
                         "1.e5",          "1.5e",          "1.5e+",        "1.5e-0",     "0.5e-3",
                         "-0.0e1",        "1.5e05x",       "1.5e5.5",      "3.4028235e38"};
  for (const char* c : cases) agrees_alone_and_among(c, ",1.5e-05,0.10539901,");
  // Taken, and each value exactly the DOM's (agrees compares the bytes).
  EXPECT_TRUE(agrees("1.6314436e-05,2.2710947e-06,-1.5e+03,1e-05,1.5e-22,1.5E5,1.2345678e22,0.5",
                     DataType::kFp32, {8}));
  EXPECT_TRUE(agrees("1.6314436e-05,2.2710947e-06,-1.5e+03,1e-05,1.5e-22,1.5E5,1.2345678e22,0.5",
                     DataType::kFp64, {8}));
  // Beyond the one-step reading, still taken by the general one.
  EXPECT_TRUE(agrees("9.9999999e-05,1.5e-123,5e-23,1.5e-0,0.5e-3,0.5,0.5,0.5", DataType::kFp64, {8}));
}

// simdjson reads the exponent of a number longer than 19 digits only up to 65536; the standard
// library reads it all. Such numbers are the DOM's to read.
TEST(JsonNumbers, LongNumbersWithHugeExponentsAreLeftToTheDom) {
  const std::string a = "1" + std::string(655360, '0') + "e-655360";  // simdjson: infinite
  EXPECT_FALSE(agrees(a, DataType::kFp64, {1}));
  const std::string b = "0." + std::string(655360, '0') + "1" + std::string(19, '0') + "e655380";
  EXPECT_FALSE(agrees(b, DataType::kFp64, {1}));
  Result<InferRequest> r = parse_infer_request(
      R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[)" + a + "]}]}", std::nullopt);
  EXPECT_TRUE(is_client_error(r.status(), "failed to parse the request JSON"));
  agrees("1" + std::string(80, '0') + "e-80", DataType::kFp64, {1});
}

// Past the first MiB the buffer grows as numbers arrive, never beyond the shape.
TEST(JsonNumbers, LargeTensorsGrowAsTheyAreRead) {
  std::string text;
  const int n = 300000;  // 1.2 MB of FP32
  for (int i = 0; i < n; ++i) text += (i ? "," : "") + std::to_string(i % 1000) + ".5";
  EXPECT_TRUE(agrees(text, DataType::kFp32, {n}));
  EXPECT_FALSE(agrees(text, DataType::kFp32, {n + 1}));
  EXPECT_FALSE(agrees(text, DataType::kFp32, {n - 1}));
}

TEST(JsonNumbers, NestingRulesAreTheWalks) {
  EXPECT_FALSE(agrees("[1,2],[3]", DataType::kInt32, {3}));      // ragged
  EXPECT_FALSE(agrees("[1,2],3", DataType::kInt32, {3}));        // arrays and values at one depth
  EXPECT_FALSE(agrees("1,[2,3]", DataType::kInt32, {3}));
  EXPECT_FALSE(agrees("1,2,3", DataType::kInt32, {2}));          // more than the shape holds
  EXPECT_FALSE(agrees("1,2", DataType::kInt32, {3}));            // fewer
  EXPECT_FALSE(agrees("[1,2],[3,4]", DataType::kInt32, {2, 3}));
  EXPECT_FALSE(agrees("[1,2", DataType::kInt32, {2}));
  EXPECT_FALSE(agrees("1,2]", DataType::kInt32, {2}));
  EXPECT_TRUE(agrees("[],[]", DataType::kInt32, {2, 0}));
  EXPECT_TRUE(agrees("[[1]],[[2]]", DataType::kInt32, {2}));
}

// Random texts near the grammar's edges, every numeric datatype: the text reader may decline
// what the DOM takes, never the reverse, and never answer differently.
TEST(JsonNumbers, RandomTextsAgreeWithTheDom) {
  std::mt19937 rng(20261126);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const char* pieces[] = {"0",  "1",  "7",   "9",  "-",  ".",  "e",  "E",  "+",   "00",
                          "5",  ",",  ",",   " ",  "[",  "]",  "x",  "\"", "123", "0.5",
                          "-1", "e9", "e-9", "3",  "4",  "2",  ".0", "8",  "6",   "e40"};
  size_t taken = 0;
  size_t dom_taken = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const size_t n = 1 + pick(12);
    for (size_t k = 0; k < n; ++k) text += pieces[pick(std::size(pieces))];
    const DataType dt = kNumeric[pick(std::size(kNumeric))];
    const Shape shape = {static_cast<int64_t>(1 + pick(4))};
    taken += agrees(text, dt, shape);
    dom_taken += by_dom(text, dt, shape).ok;
  }
  // Both readers took some: the comparison above was not only between refusals.
  EXPECT_GT(dom_taken, 100u);
  EXPECT_GT(taken, dom_taken / 2);
  // Well-formed numbers of every length and exponent, as floats and as doubles.
  for (int i = 0; i < 20000; ++i) {
    std::string v = pick(2) ? "-" : "";
    v += std::to_string(pick(10));
    if (v.back() != '0' || pick(2))
      for (size_t k = pick(22); k > 0; --k) v += static_cast<char>('0' + pick(10));
    if (pick(3)) {
      v += '.';
      for (size_t k = 1 + pick(25); k > 0; --k) v += static_cast<char>('0' + pick(10));
    }
    if (pick(3) == 0) v += "e" + std::to_string(static_cast<int>(pick(80)) - 40);
    agrees(v, DataType::kFp32, {1});
    agrees(v, DataType::kFp64, {1});
    agrees(v, DataType::kInt64, {1});
  }
}

// Numbers followed by at least 8 bytes take the one-load reading of short spellings ("0.0118",
// "-42"); the texts above are mostly too short for it. Arrays of such numbers, near its edges
// (7 and 8 digits, a dot at the load's end, exponents, leading zeros, stray bytes after), must
// read as the DOM reads them.
TEST(JsonNumbers, ShortSpellingsInLongArraysAgreeWithTheDom) {
  std::mt19937 rng(20261127);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto digits = [&](size_t n) {
    std::string d;
    for (size_t k = 0; k < n; ++k) d += static_cast<char>('0' + pick(10));
    return d;
  };
  const char* after[] = {"", "", "", "", "e2", "E-1", ".", "x", " ", "0"};
  size_t taken = 0;
  for (int i = 0; i < 4000; ++i) {
    const size_t n = 1 + pick(12);
    std::string text;
    for (size_t k = 0; k < n; ++k) {
      if (k) text += pick(8) ? "," : (pick(2) ? ", " : " ,");
      std::string v = pick(4) ? "" : "-";
      v += pick(3) ? std::string(1, static_cast<char>('1' + pick(9))) + digits(pick(8)) : "0";
      if (pick(4)) v += "." + digits(pick(9));
      if (pick(10) == 0) v += after[pick(std::size(after))];
      text += v;
    }
    const Shape shape = {static_cast<int64_t>(n)};
    for (DataType dt : {DataType::kFp32, DataType::kFp64, DataType::kInt32, DataType::kInt64})
      taken += agrees(text, dt, shape);
  }
  EXPECT_GT(taken, 2000u);
  // Fashion-MNIST's own spellings, each value read exactly.
  std::string text;
  std::vector<float> want;
  for (int k = 0; k < 784; ++k) {
    const std::string v = k % 3 == 0 ? "0.0" : "0." + digits(4);
    text += (k ? "," : "") + v;
    want.push_back(static_cast<float>(std::strtod(v.c_str(), nullptr)));
  }
  const Outcome got = by_text(text, DataType::kFp32, {1, 784});
  ASSERT_TRUE(got.ok);
  ASSERT_EQ(got.data.size(), want.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(got.data.data(), want.data(), got.data.size()), 0);
  EXPECT_TRUE(agrees(text, DataType::kFp32, {1, 784}));
}

// Long arrays of short numbers (hundreds, in rows or flat), with every separator and stray
// spelling among them and every numeric datatype, read as the DOM reads them.
TEST(JsonNumbers, LongArraysOfShortNumbersAgreeWithTheDom) {
  std::mt19937 rng(20261128);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const char* odd[] = {"-0",  "-0.0", "00",   "01.5", "1.",  ".5",   "1..2", "1.2.3", "-",
                       "--1", "1e5",  "0.5x", "",     "1-2", "1234567.8", "12345678",
                       "-12345678", "0.000001", "99999999", "255", "256", "-129", "3.0"};
  const char* seps[] = {",", ",", ",", ",", ",", ", ", ", ", ",  ", " ,", ",\t", ",\n"};
  size_t taken = 0;
  for (int i = 0; i < 1500; ++i) {
    const size_t rows = 1 + pick(3);
    const size_t cols = 8 + pick(200);
    const bool plain = pick(2);  // most arrays carry nothing odd: they are read to their end
    std::string text;
    for (size_t r = 0; r < rows; ++r) {
      if (r) text += pick(2) ? "," : ", ";
      if (rows > 1) text += '[';
      for (size_t k = 0; k < cols; ++k) {
        if (k) text += plain ? (pick(3) ? "," : ", ") : seps[pick(std::size(seps))];
        if (!plain && pick(40) == 0) {
          text += odd[pick(std::size(odd))];
          continue;
        }
        std::string v = pick(5) ? "" : "-";
        if (pick(3)) {
          v += std::to_string(1 + pick(9));
          for (size_t d = pick(4); d > 0; --d) v += static_cast<char>('0' + pick(10));
        } else {
          v += '0';
        }
        if (pick(4) || v == "-0") {
          v += '.';
          for (size_t d = 1 + pick(6); d > 0; --d) v += static_cast<char>('0' + pick(10));
        }
        text += v;
      }
      if (rows > 1) text += ']';
    }
    const Shape shape = rows > 1 ? Shape{static_cast<int64_t>(rows), static_cast<int64_t>(cols)}
                                 : Shape{static_cast<int64_t>(cols)};
    const DataType dt = kNumeric[pick(std::size(kNumeric))];
    taken += agrees(text, dt, shape);
    taken += agrees(text, DataType::kFp32, shape);
  }
  // Well over the plain arrays' share as floats: the reader took them, not only refused them.
  EXPECT_GT(taken, 800u);
}

// Whole requests: the hollowed reading gives what the DOM reading gives. A backslash in the id
// ("\u0062" is "b") sends the same request the DOM way.
TEST(JsonNumbers, RequestsReadTheSameEitherWay) {
  const std::string inputs =
      R"("inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[0.5,1],[2,-3.25]]},)"
      R"({"name":"b","shape":[3],"datatype":"INT8","data":[1,-2,3]},)"
      R"({"name":"c","shape":[2],"datatype":"BYTES","data":["p","q"]},)"
      R"({"name":"d","shape":[1],"datatype":"FP64","parameters":{"binary_data_size":8}}])";
  const std::string tail = le<double>({6.5});
  for (const std::string& id : {std::string("b"), std::string("\\u0062")}) {
    const std::string json = R"({"id":")" + id + R"(",)" + inputs + "}";
    const std::string len = std::to_string(json.size());
    Result<InferRequest> r = parse_infer_request(json + tail, std::string_view(len));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->id, "b");
    ASSERT_EQ(r->inputs.size(), 4u);
    EXPECT_EQ(r->inputs[0].data, le<float>({0.5f, 1, 2, -3.25f}));
    EXPECT_EQ(r->inputs[1].data, le<int8_t>({1, -2, 3}));
    EXPECT_EQ(r->inputs[2].data, bytes_elems({"p", "q"}));
    EXPECT_EQ(r->inputs[3].data, le<double>({6.5}));
  }
}

// `data` members that are not the tensors' must not lend them their text.
TEST(JsonNumbers, OtherDataMembersAreNotTakenForTheTensors) {
  // A duplicate key: simdjson reads the first.
  Result<InferRequest> r = parse_infer_request(
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"INT32","data":[1,2],"data":[3,4]}]})", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].data, le<int32_t>({1, 2}));
  // An escaped key that simdjson reads as "data" while another member is the scan's `data`.
  // Its own array is empty; the other's two numbers would fit its shape.
  r = parse_infer_request(
      R"({"id":"x","x":{"data":[9,9]},"inputs":[{"name":"a","shape":[2],"datatype":"INT32","d\u0061ta":[]}]})", std::nullopt);
  EXPECT_TRUE(is_client_error(r.status(), "has 0 elements but shape [2] needs 2"));
  // A `data` in a response's parameters-free extra member, before the outputs.
  Result<InferResponse> resp = parse_infer_response(
      R"({"model_name":"m","extra":{"data":[5]},"outputs":[{"name":"o","shape":[1],"datatype":"INT32","data":[7]}]})", std::nullopt);
  ASSERT_TRUE(resp.ok()) << resp.status().to_string();
  EXPECT_EQ(resp->outputs[0].data, le<int32_t>({7}));
}

// Refused bodies are refused with the DOM reading's words, not a word of the text reader's.
TEST(JsonNumbers, ErrorsAreTheDomReadings) {
  Result<InferRequest> r = parse_infer_request(
      R"({"inputs":[{"name":"a","shape":[3],"datatype":"UINT8","data":[1,300,2]}]})", std::nullopt);
  EXPECT_TRUE(is_client_error(r.status(), "element 1 (300) is out of range for UINT8"));
  r = parse_infer_request(R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,,2]}]})", std::nullopt);
  EXPECT_TRUE(is_client_error(r.status(), "failed to parse the request JSON"));
  r = parse_infer_request(R"({"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1,2]}]})", std::nullopt);
  EXPECT_TRUE(is_client_error(r.status(), "has 2 elements but shape [3] needs 3"));
}

}  // namespace
}  // namespace hir::protocol
