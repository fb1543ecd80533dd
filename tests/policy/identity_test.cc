// passwd/group parsing with its bounds, and identity resolution.
#include "sandbox-policy/identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace openshell::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "# a comment\n"
    "\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "sandbox:x:1000:1000:Sandbox:/home/sandbox:/bin/bash\n"
    "agent:x:1500:1500::/home/agent:/usr/sbin/nologin\n"
    "bare:x:1600:1600:::\n";
const char* kGroup =
    "root:x:0:sandbox\n"
    "sandbox:x:1000:\n"
    "docker:x:999:sandbox,agent\n"
    "video:x:44:sandbox\n"
    "agent:x:1500:\n"
    "devs:x:3000:agent\n";

IdentityInputs inputs() {
  IdentityInputs in;
  in.passwd = *parse_passwd(kPasswd, "passwd");
  in.group = *parse_group(kGroup, "group");
  in.workdir = "/sandbox";
  return in;
}

TEST(Passwd, ParsesEntriesSkippingCommentsAndBlankLines) {
  auto p = parse_passwd(kPasswd, "passwd");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  ASSERT_EQ(p->size(), 5u);
  EXPECT_EQ((*p)[2].name, "sandbox");
  EXPECT_EQ((*p)[2].uid, 1000u);
  EXPECT_EQ((*p)[2].gid, 1000u);
  EXPECT_EQ((*p)[2].home, "/home/sandbox");
  EXPECT_EQ((*p)[2].shell, "/bin/bash");
}

TEST(Passwd, MalformedLinesAreErrorsWithLineNumbers) {
  auto p = parse_passwd("root:x:0:0:root:/root:/bin/bash\nbroken:x:1000\n", "/img/etc/passwd");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().file, "/img/etc/passwd");
  EXPECT_EQ(p.error().line, 2);
  EXPECT_THAT(p.error().message, HasSubstr("7 fields"));

  p = parse_passwd("a:x:10x:1:::\n", "passwd");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("decimal"));

  p = parse_passwd("a:x:99999999999:1:::\n", "passwd");  // over 32 bits
  ASSERT_FALSE(p.has_value());

  p = parse_passwd(":x:1:1:::\n", "passwd");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("empty name"));
}

TEST(Passwd, OversizeLineFileAndEntryCountAreRefused) {
  std::string long_line = "a:x:1:1:" + std::string(kMaxAccountLineBytes, 'g') + ":/:/bin/sh\n";
  auto p = parse_passwd("ok:x:1:1:::\n" + long_line, "passwd");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().line, 2);
  EXPECT_THAT(p.error().message, HasSubstr("line longer"));

  std::string huge(kMaxAccountFileBytes + 1, '#');
  p = parse_passwd(huge, "passwd");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("larger than"));

  std::string many;
  for (size_t i = 0; i <= kMaxAccountEntries; ++i) many += "u:x:1:1:::\n";
  p = parse_passwd(many, "passwd");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("entries"));
}

TEST(Group, ParsesMembers) {
  auto g = parse_group(kGroup, "group");
  ASSERT_TRUE(g.has_value()) << g.error().to_string();
  ASSERT_EQ(g->size(), 6u);
  EXPECT_EQ((*g)[2].name, "docker");
  EXPECT_THAT((*g)[2].members, ElementsAre("sandbox", "agent"));
  auto bad = parse_group("g:x:1\n", "group");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().line, 1);
}

TEST(Identity, DefaultIsTheSandboxUser) {
  auto id = resolve_identity({}, inputs());
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, 1000u);
  EXPECT_EQ(id->gid, 1000u);
  EXPECT_EQ(id->user_name, "sandbox");
  EXPECT_EQ(id->home, "/home/sandbox");
  EXPECT_EQ(id->shell, "/bin/bash");
  // Never root's group, even when /etc/group lists the user in it.
  EXPECT_THAT(id->supplementary_gids, ElementsAre(44u, 999u));
}

TEST(Identity, FallbackWithoutSandboxUserIs1000) {
  IdentityInputs in;
  in.workdir = "/sandbox";
  auto id = resolve_identity({}, in);
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, kFallbackId);
  EXPECT_EQ(id->gid, kFallbackId);
  EXPECT_EQ(id->home, "/sandbox");
  EXPECT_EQ(id->shell, "/bin/sh");
}

TEST(Identity, NamesResolveThroughPasswdAndGroup) {
  auto id = resolve_identity({"agent", "devs"}, inputs());
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, 1500u);
  EXPECT_EQ(id->gid, 3000u);
  EXPECT_EQ(id->shell, "/bin/sh");  // nologin replaced: SSH sessions need a shell
  EXPECT_THAT(id->supplementary_gids, ElementsAre(999u));
}

TEST(Identity, NumbersNeedNoPasswdEntry) {
  auto id = resolve_identity({"4242", "4343"}, inputs());
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, 4242u);
  EXPECT_EQ(id->gid, 4343u);
  EXPECT_TRUE(id->user_name.empty());
  EXPECT_EQ(id->home, "/sandbox");
  // A number with a passwd entry picks up its name and home.
  id = resolve_identity({"1000", ""}, inputs());
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->user_name, "sandbox");
  EXPECT_EQ(id->gid, 1000u);
}

TEST(Identity, UnknownNamesAreErrors) {
  auto id = resolve_identity({"nobody-here", ""}, inputs());
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "process.run_as_user");
  id = resolve_identity({"sandbox", "nogroup"}, inputs());
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "process.run_as_group");
  // A numeric uid without passwd entry needs a group.
  id = resolve_identity({"4242", ""}, inputs());
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "process.run_as_group");
}

TEST(Identity, NamesResolvingToRootAreRefused) {
  auto id = resolve_identity({"root", ""}, inputs());
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "process.run_as_user");
  EXPECT_THAT(id.error().message, HasSubstr("uid 0"));
  id = resolve_identity({"sandbox", "root"}, inputs());
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "process.run_as_group");
}

TEST(Identity, EnvironmentOverrideWinsAndNeedsBoth) {
  IdentityInputs in = inputs();
  in.env_uid = "2000";
  in.env_gid = "2001";
  auto id = resolve_identity({"sandbox", "sandbox"}, in);
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, 2000u);
  EXPECT_EQ(id->gid, 2001u);

  in.env_gid.reset();
  id = resolve_identity({}, in);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "OPENSHELL_SANDBOX_GID");

  in = inputs();
  in.env_gid = "5";
  id = resolve_identity({}, in);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().key, "OPENSHELL_SANDBOX_UID");
}

TEST(Identity, EnvironmentOverrideRange) {
  for (auto [uid, gid, bad] : {std::tuple{"0", "1", "OPENSHELL_SANDBOX_UID"},
                               std::tuple{"1", "0", "OPENSHELL_SANDBOX_GID"},
                               std::tuple{"4294967295", "1", "OPENSHELL_SANDBOX_UID"},
                               std::tuple{"1", "4294967296", "OPENSHELL_SANDBOX_GID"},
                               std::tuple{"-1", "1", "OPENSHELL_SANDBOX_UID"},
                               std::tuple{"12a", "1", "OPENSHELL_SANDBOX_UID"},
                               std::tuple{"", "1", "OPENSHELL_SANDBOX_UID"}}) {
    IdentityInputs in = inputs();
    in.env_uid = uid;
    in.env_gid = gid;
    auto id = resolve_identity({}, in);
    ASSERT_FALSE(id.has_value()) << uid << ":" << gid;
    EXPECT_EQ(id.error().key, bad) << uid << ":" << gid;
  }
  IdentityInputs in = inputs();
  in.env_uid = "4294967294";
  in.env_gid = "1";
  EXPECT_TRUE(resolve_identity({}, in).has_value());
}

TEST(Identity, ReadsTheImageRoot) {
  testing::TempRoot root;
  root.write("etc/passwd", kPasswd);
  root.write("etc/group", kGroup);
  auto id = resolve_identity_from_image({"agent", ""}, root.path(), {});
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, 1500u);
  EXPECT_EQ(id->gid, 1500u);
}

TEST(Identity, ScratchImageWithoutPasswdFallsBack) {
  testing::TempRoot root;
  IdentityInputs in;
  in.workdir = "/sandbox";
  auto id = resolve_identity_from_image({}, root.path(), in);
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(id->uid, kFallbackId);
}

TEST(Identity, MalformedImagePasswdIsAnError) {
  testing::TempRoot root;
  root.write("etc/passwd", "sandbox:x:1000\n");
  auto id = resolve_identity_from_image({}, root.path(), {});
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().file, root.path() + "/etc/passwd");
  EXPECT_EQ(id.error().line, 1);
}

TEST(BoundedFile, RefusesFilesOverTheLimit) {
  testing::TempRoot root;
  root.write("big", std::string(100, 'x'));
  auto r = read_bounded_file(root.path() + "/big", 99);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("larger than 99"));
  r = read_bounded_file(root.path() + "/big", 100);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)->size(), 100u);
  r = read_bounded_file(root.path() + "/missing", 100);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
}

}  // namespace
}  // namespace openshell::policy
