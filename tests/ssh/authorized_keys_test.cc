// The authorized_keys parser: what it takes, what it skips and why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "keys.h"

namespace openshell::ssh {
namespace {

// A fixed Ed25519 public key and its OpenSSH fingerprint.
constexpr char kKey[] = "AAAAC3NzaC1lZDI1NTE5AAAAIGwvMwkSRPzvJ2Hb5+FPhyRp0kzLQrYar1eb6FUzZTIx";
constexpr char kFingerprint[] = "SHA256:BboYPcrdVcLoGtz27HlU3Xht3IlmS7zgJr01npOOGNc";

TEST(AuthorizedKeys, TakesPlainKeysWithCommentsAndBlankLines) {
  auto keys = parse_authorized_keys(std::string("# gateway\n\n  ssh-ed25519 ") + kKey +
                                    " gateway@example\r\n");
  ASSERT_EQ(keys.keys.size(), 1u);
  EXPECT_EQ(keys.keys[0].type, "ssh-ed25519");
  EXPECT_EQ(keys.keys[0].fingerprint, kFingerprint);
  EXPECT_EQ(keys.keys[0].comment, "gateway@example");
  EXPECT_EQ(keys.keys[0].line, 3);
  EXPECT_TRUE(keys.skipped.empty());
}

TEST(AuthorizedKeys, SkipsKeysWithOptionsBecauseTheyCannotBeHonoured) {
  for (const char* options :
       {"restrict", "command=\"/bin/true\"", "from=\"10.0.0.0/8\"", "no-port-forwarding,no-pty"}) {
    auto keys = parse_authorized_keys(std::string(options) + " ssh-ed25519 " + kKey + "\n");
    EXPECT_TRUE(keys.keys.empty()) << options;
    ASSERT_EQ(keys.skipped.size(), 1u);
    EXPECT_NE(keys.skipped[0].find("line 1: key options are not supported"), std::string::npos);
  }
}

TEST(AuthorizedKeys, SkipsGarbageAndMismatchedTypes) {
  auto keys = parse_authorized_keys(std::string("ssh-ed25519\n") +              // no data
                                    "ssh-ed25519 !!!notbase64!!!\n" +           // bad base64
                                    "ssh-rsa " + kKey + "\n" +                  // blob says ed25519
                                    "ecdsa-sha2-nistp256 " + kKey + "\n" +      // blob says ed25519
                                    std::string("ssh-ed25519 AAAA\0AAA\n", 21)  // NUL byte
  );
  EXPECT_TRUE(keys.keys.empty());
  EXPECT_EQ(keys.skipped.size(), 5u);
}

TEST(AuthorizedKeys, SkipsOverlongLines) {
  auto keys = parse_authorized_keys("ssh-ed25519 " + std::string(20000, 'A') + "\n");
  EXPECT_TRUE(keys.keys.empty());
  ASSERT_EQ(keys.skipped.size(), 1u);
  EXPECT_NE(keys.skipped[0].find("longer than"), std::string::npos);
}

TEST(AuthorizedKeys, FindMatchesOnlyTheSameKey) {
  auto keys = parse_authorized_keys(std::string("ssh-ed25519 ") + kKey + "\n");
  ASSERT_EQ(keys.keys.size(), 1u);
  EXPECT_EQ(keys.find(keys.keys[0].key.get()), &keys.keys[0]);
  ssh_key other = nullptr;
  ASSERT_EQ(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &other), SSH_OK);
  KeyPtr owned(other);
  EXPECT_EQ(keys.find(owned.get()), nullptr);
}

TEST(AuthorizedKeys, LoadFailsClosed) {
  EXPECT_FALSE(load_authorized_keys("").has_value());
  EXPECT_FALSE(load_authorized_keys("/nonexistent/authorized_keys").has_value());
  EXPECT_FALSE(load_authorized_keys("/dev/null").has_value());  // not a regular file
  char path[] = "/tmp/ak-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "# nothing usable\nrestrict ssh-ed25519 " << kKey << "\n";
  auto none = load_authorized_keys(path);
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().what.find("no usable public key"), std::string::npos);
  std::ofstream(path) << "ssh-ed25519 " << kKey << "\n";
  EXPECT_TRUE(load_authorized_keys(path).has_value());
  unlink(path);
}

TEST(HostKey, GeneratedKeyIsEd25519WithFingerprint) {
  auto key = load_or_generate_host_key("");
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(key->generated);
  EXPECT_EQ(key->public_line.rfind("ssh-ed25519 AAAA", 0), 0u);
  EXPECT_EQ(key->fingerprint.rfind("SHA256:", 0), 0u);
}

}  // namespace
}  // namespace openshell::ssh
