#include "log.h"

#include <gtest/gtest.h>

#include "startup_error.h"

namespace openshell {
namespace {

TEST(Log, QuotesEverythingJsonNeedsQuoted) {
  EXPECT_EQ(log::Field::quote("plain"), "\"plain\"");
  EXPECT_EQ(log::Field::quote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

TEST(Log, ParsesTheContractLevels) {
  EXPECT_EQ(log::parse_level("trace"), log::Level::trace);
  EXPECT_EQ(log::parse_level("warn"), log::Level::warn);
  EXPECT_EQ(log::parse_level("error"), log::Level::error);
  EXPECT_FALSE(log::parse_level("WARN"));
  EXPECT_FALSE(log::parse_level(""));
}

TEST(TerminationLog, IsWrittenOnlyWhenTheFileExists) {
  char path[] = "/tmp/termination-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  write_termination_message(path, "openshell-supervisor: input: bad");
  FILE* f = std::fopen(path, "r");
  char buffer[128] = {};
  ASSERT_NE(std::fgets(buffer, sizeof buffer, f), nullptr);
  std::fclose(f);
  EXPECT_STREQ(buffer, "openshell-supervisor: input: bad");
  ::unlink(path);
  write_termination_message(path, "x");
  EXPECT_NE(::access(path, F_OK), 0) << "must not create the file";
}

}  // namespace
}  // namespace openshell
