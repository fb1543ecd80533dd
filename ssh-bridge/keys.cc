#include "keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>

#include "unique_fd.h"

namespace openshell::ssh {
namespace {

constexpr size_t kMaxAuthorizedKeysBytes = 1 << 20;
constexpr size_t kMaxLineBytes = 16 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view next_token(std::string_view& s) {
  s = trim(s);
  size_t end = 0;
  while (end < s.size() && s[end] != ' ' && s[end] != '\t') ++end;
  std::string_view token = s.substr(0, end);
  s.remove_prefix(end);
  return token;
}

bool is_key_type(std::string_view token) {
  std::string name(token);
  return ssh_key_type_from_name(name.c_str()) != SSH_KEYTYPE_UNKNOWN;
}

Result<std::string> read_bounded(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return fail_errno("open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + path);
  if (!S_ISREG(st.st_mode)) return fail(path + " is not a regular file");
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + path);
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > limit) {
      return fail(path + " is larger than " + std::to_string(limit) + " bytes");
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

std::string fingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) {
    return "SHA256:?";
  }
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (text == nullptr) return "SHA256:?";
  std::string out(text);
  ssh_string_free_char(text);
  return out;
}

const AuthorizedKey* AuthorizedKeys::find(ssh_key key) const {
  for (const auto& k : keys) {
    if (ssh_key_cmp(k.key.get(), key, SSH_KEY_CMP_PUBLIC) == 0) return &k;
  }
  return nullptr;
}

AuthorizedKeys parse_authorized_keys(std::string_view text) {
  AuthorizedKeys out;
  int number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    auto skip = [&](std::string why) {
      out.skipped.push_back("line " + std::to_string(number) + ": " + std::move(why));
    };
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() > kMaxLineBytes) {
      skip("longer than " + std::to_string(kMaxLineBytes) + " bytes");
      continue;
    }
    if (line.find('\0') != std::string_view::npos) {
      skip("contains a NUL byte");
      continue;
    }
    std::string_view rest = line;
    std::string_view type = next_token(rest);
    if (!is_key_type(type)) {
      // sshd(8) AUTHORIZED_KEYS FILE FORMAT: an options field comes first.
      // We cannot enforce command=, from=, permitopen= or restrict, so a key
      // carrying any option is not used at all rather than used unrestricted.
      skip("key options are not supported (\"" + std::string(type.substr(0, 40)) +
           "\"); remove them or the key is not accepted");
      continue;
    }
    std::string_view blob = next_token(rest);
    if (blob.empty()) {
      skip("no key data after " + std::string(type));
      continue;
    }
    std::string type_name(type);
    std::string blob_text(blob);
    ssh_key raw = nullptr;
    if (ssh_pki_import_pubkey_base64(blob_text.c_str(), ssh_key_type_from_name(type_name.c_str()),
                                     &raw) != SSH_OK ||
        raw == nullptr) {
      skip("invalid " + type_name + " key data");
      continue;
    }
    KeyPtr key(raw);
    // The blob names its own type; it must agree with the text before it.
    const char* blob_type = ssh_key_type_to_char(ssh_key_type(key.get()));
    if (blob_type == nullptr ||
        ssh_key_type_from_name(type_name.c_str()) != ssh_key_type(key.get())) {
      skip("key type " + type_name + " does not match its data");
      continue;
    }
    AuthorizedKey entry;
    entry.fingerprint = fingerprint(key.get());
    entry.key = std::move(key);
    entry.type = type_name;
    entry.comment = std::string(trim(rest));
    entry.line = number;
    out.keys.push_back(std::move(entry));
  }
  return out;
}

Result<AuthorizedKeys> load_authorized_keys(const std::string& path) {
  if (path.empty()) return fail("no authorized keys file configured");
  auto text = read_bounded(path, kMaxAuthorizedKeysBytes);
  if (!text) return std::unexpected(text.error());
  AuthorizedKeys keys = parse_authorized_keys(*text);
  if (keys.keys.empty()) {
    std::string why = path + " has no usable public key";
    if (!keys.skipped.empty()) why += " (" + keys.skipped.front() + ")";
    return fail(why);
  }
  return keys;
}

Result<HostKey> load_or_generate_host_key(const std::string& path) {
  HostKey out;
  ssh_key raw = nullptr;
  if (path.empty()) {
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK || raw == nullptr) {
      return fail("generate Ed25519 host key");
    }
    out.generated = true;
  } else {
    // Bounded read first so a huge or special file is refused before parsing.
    auto text = read_bounded(path, 64 * 1024);
    if (!text) return std::unexpected(text.error());
    if (ssh_pki_import_privkey_base64(text->c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK ||
        raw == nullptr) {
      return fail(path + " is not an unencrypted OpenSSH private key");
    }
  }
  out.key.reset(raw);
  if (ssh_key_type(out.key.get()) != SSH_KEYTYPE_ED25519) {
    return fail(path + ": host key must be Ed25519");
  }
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(out.key.get(), &b64) != SSH_OK || b64 == nullptr) {
    return fail("export host public key");
  }
  out.public_line = std::string("ssh-ed25519 ") + b64;
  ssh_string_free_char(b64);
  out.fingerprint = fingerprint(out.key.get());
  return out;
}

}  // namespace openshell::ssh
