// UTF-8 validation/repair against Python's decoder (data/invalid_utf8.expected.tsv, made by
// make_utf8_expected.py), and .jsonl field extraction with the invalid-UTF-8 policy.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/json_fields.hpp"
#include "io/utf8.hpp"

namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

std::vector<std::string> corpus_lines() {
  std::ifstream in(std::string(QKV_SOURCE_DIR) + "/tests/data/corpus/invalid_utf8.bin",
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == '\n') {
      lines.push_back(all.substr(start, i - start));
      start = i + 1;
    }
  if (start < all.size()) lines.push_back(all.substr(start));
  return lines;
}

TEST(Utf8, MatchesPythonOnEveryInvalidCase) {
  auto lines = corpus_lines();
  std::ifstream tsv(std::string(QKV_SOURCE_DIR) + "/tests/io/data/invalid_utf8.expected.tsv");
  std::string row;
  std::getline(tsv, row);  // header
  size_t checked = 0;
  while (std::getline(tsv, row)) {
    std::istringstream r(row);
    size_t line, first;
    std::string hex;
    r >> line >> first >> hex;
    ASSERT_LT(line, lines.size());
    EXPECT_EQ(qkv::io::utf8_first_invalid(lines[line]), first) << "line " << line;
    EXPECT_EQ(qkv::io::utf8_repair(lines[line]), unhex(hex)) << "line " << line;
    ++checked;
  }
  EXPECT_EQ(checked, 49u);
  EXPECT_EQ(lines.size(), 49u);
}

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string s =
      "plain ASCII, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF end";
  EXPECT_TRUE(qkv::io::utf8_valid(s));
  EXPECT_EQ(qkv::io::utf8_repair(s), s);
}

using qkv::io::extract_fields;
const std::vector<std::string> kText{"text"};

TEST(JsonFields, PlainObject) {
  auto r = extract_fields(R"({"id":"a","text":"h\u00e9llo \ud83d\ude00\n"})", kText, false);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.texts[0], "h\xC3\xA9llo \xF0\x9F\x98\x80\n");
}

TEST(JsonFields, SeveralFieldsInRequestedOrder) {
  std::vector<std::string> f{"tgt", "src"};
  auto r = extract_fields(R"({"src":"a","tgt":"b"})", f, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.texts, (std::vector<std::string>{"b", "a"}));
}

TEST(JsonFields, LoneSurrogateEscapeIsInvalid) {
  // "ab" then a lone high surrogate: byte 2 of the text, byte 16 of the line (the backslash).
  const std::string line = R"({"id":1,"text":"ab\ud800cd"})";
  auto r = extract_fields(line, kText, false);
  ASSERT_TRUE(r.invalid.has_value());
  EXPECT_EQ(r.invalid->doc_offset, 2u);
  EXPECT_EQ(r.invalid->line_offset, line.find('\\'));
  auto fixed = extract_fields(line, kText, true);
  ASSERT_TRUE(fixed.ok()) << fixed.error;
  EXPECT_EQ(fixed.texts[0],
            "ab\xEF\xBF\xBD"
            "cd");
}

TEST(JsonFields, LoneLowSurrogateAndReversedPair) {
  auto r = extract_fields(R"({"text":"\udc00\ud800x"})", kText, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.texts[0], "\xEF\xBF\xBD\xEF\xBF\xBDx");
}

TEST(JsonFields, RawInvalidBytesWithOffsetsAfterEscapes) {
  // Text "\u00e9\n" decodes to 3 bytes, then the invalid 0xFF.
  const std::string line = std::string(R"({"text":"\u00e9\n)") + "\xFF" + R"(z"})";
  auto r = extract_fields(line, kText, false);
  ASSERT_TRUE(r.invalid.has_value());
  EXPECT_EQ(r.invalid->doc_offset, 3u);
  EXPECT_EQ(r.invalid->line_offset, line.find('\xFF'));
  auto fixed = extract_fields(line, kText, true);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed.texts[0], "\xC3\xA9\n\xEF\xBF\xBDz");
}

TEST(JsonFields, InvalidOutsideTheTextFieldDoesNotFail) {
  auto r = extract_fields("{\"id\":\"\xC3\",\"text\":\"ok\"}", kText, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.texts[0], "ok");
}

// input.id_field: the id as compact JSON, the same bytes from the fast (simdjson) path and the
// careful one (a duplicate "text" key sends a line there): strings re-escaped with UTF-8 kept,
// integers exactly, null or absent as none, other types an error.
TEST(JsonFields, IdFieldAsJson) {
  struct Case {
    std::string id_value;  // as written in the line
    std::string want;      // r.id
  };
  const std::vector<Case> cases = {
      {R"("a\"b\u00e9")", "\"a\\\"b\xC3\xA9\""},
      {R"("a\tb/c")", R"("a\tb/c")"},
      {"-5", "-5"},
      {"18446744073709551615", "18446744073709551615"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"null", ""},
  };
  for (const auto& c : cases) {
    for (const std::string tail : {R"("text":"x"})", R"("text":"y","text":"x"})"}) {
      const std::string line = "{\"id\":" + c.id_value + "," + tail;
      auto r = extract_fields(line, kText, false, "id");
      EXPECT_TRUE(r.ok()) << line << ": " << r.error;
      EXPECT_EQ(r.id, c.want) << line;
      ASSERT_EQ(r.texts.size(), 1u) << line;
      EXPECT_EQ(r.texts[0], "x");
    }
  }
  EXPECT_EQ(extract_fields(R"({"text":"x"})", kText, false, "id").id, "");
  EXPECT_EQ(extract_fields(R"({"id":1,"text":"x"})", kText, false).id, "") << "none asked";
  EXPECT_EQ(extract_fields(R"({"key":7,"id":1,"text":"x"})", kText, false, "key").id, "7");
  EXPECT_EQ(extract_fields(R"({"id":1,"id":"two","text":"x"})", kText, false, "id").id, "\"two\"")
      << "a duplicate key: the last one, as for text fields";
  for (const std::string bad : {"1.5", "[1]", "{}", "true"}) {
    auto r = extract_fields("{\"id\":" + bad + ",\"text\":\"x\"}", kText, false, "id");
    EXPECT_EQ(r.error, "field \"id\" (input.id_field) is not a string or an integer") << bad;
  }
}

TEST(JsonFields, Errors) {
  EXPECT_EQ(extract_fields(R"({"txt":"a"})", kText, false).error, "has no field \"text\"");
  EXPECT_EQ(extract_fields(R"({"text":3})", kText, false).error, "field \"text\" is not a string");
  EXPECT_EQ(extract_fields(R"(["text"])", kText, false).error, "expected a JSON object per line");
  EXPECT_EQ(extract_fields(R"({"text":"a")", kText, false).error.rfind("not valid JSON: ", 0), 0u);
  EXPECT_EQ(extract_fields("{\"text\":\"a\xFF\"", kText, true).error.rfind("not valid JSON", 0),
            0u);
}

}  // namespace
