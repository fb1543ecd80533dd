#include "main_spec.h"

#include <gtest/gtest.h>

namespace openshell {
namespace {

TEST(MainProcessSpec, ParsesJson) {
  auto spec = parse_main_process_spec(R"({"version":1,"command":["claude","--print"],"tty":true})");
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->command, (std::vector<std::string>{"claude", "--print"}));
  EXPECT_TRUE(spec->tty);
}

TEST(MainProcessSpec, TtyDefaultsToFalseInTheSpec) {
  auto spec = parse_main_process_spec(R"({"version":1,"command":["a"]})");
  ASSERT_TRUE(spec);
  EXPECT_FALSE(spec->tty);
}

TEST(MainProcessSpec, ParsesBase64UrlWithoutPadding) {
  // {"version":1,"command":["a?b"]} has a '?' whose encoding needs '_' or '-'.
  std::string encoded = "eyJ2ZXJzaW9uIjoxLCJjb21tYW5kIjpbImE_YiJdfQ";
  auto spec = parse_main_process_spec("base64url:" + encoded);
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->command, (std::vector<std::string>{"a?b"}));
}

TEST(MainProcessSpec, RejectsWhatIsWrong) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "invalid JSON"},
      {"[1]", "invalid JSON"},
      {R"({"version":1,"command":"ls"})", "invalid JSON"},
      {R"({"version":1,"command":["ls"],"extra":1})", "invalid JSON: unknown key \"extra\""},
      {R"({"version":1,"command":["ls"]} {})", "invalid JSON: at offset 31: extra data"},
      {R"({"version":1,"command":["ls",2]})", "element 1 is a number"},
      {R"({"version":1,"command":[["ls"]]})", "element 0 is an array"},
      {R"({"version":1,"command":["ls"],"tty":"yes"})", "\"tty\" must be true or false"},
      {R"({"version":1,"command":["ls"],"tty":null})", "\"tty\" must be true or false"},
      {R"({"version":1.0,"command":["ls"]})", "\"version\" must be an integer"},
      {R"({"version":"1","command":["ls"]})", "\"version\" must be an integer"},
      {R"({"command":["ls"]})", "unsupported version 0"},
      {R"({"version":-1,"command":["ls"]})", "unsupported version -1"},
      {R"({"version":18446744073709551615,"command":["ls"]})", "unsupported version 1844674407"},
      {R"({"version":2,"command":["ls"]})", "unsupported version 2"},
      {R"({"version":1})", "non-empty"},
      {R"({"version":1,"command":[]})", "non-empty"},
      {R"({"version":1,"command":[""]})", "must not be empty"},
      {"base64url:e", "truncated"},
      {"base64url:eyJ=", "padding"},
      {"base64url:eyJ9 e30", "invalid character"},
  };
  for (const auto& c : cases) {
    auto spec = parse_main_process_spec(c.text);
    ASSERT_FALSE(spec) << c.text;
    EXPECT_NE(spec.error().what.find(c.message), std::string::npos)
        << c.text << " -> " << spec.error().what;
  }
}

TEST(Base64Url, DecodesTheRfc4648Vectors) {
  EXPECT_EQ(decode_base64url("").value(), "");
  EXPECT_EQ(decode_base64url("Zg").value(), "f");
  EXPECT_EQ(decode_base64url("Zm8").value(), "fo");
  EXPECT_EQ(decode_base64url("Zm9v").value(), "foo");
  EXPECT_EQ(decode_base64url("Zm9vYmFy").value(), "foobar");
  EXPECT_EQ(decode_base64url("-_8").value(), "\xfb\xff");
  EXPECT_FALSE(decode_base64url("Zh"));  // non-zero trailing bits
}

}  // namespace
}  // namespace openshell
