// Keys: the gateway's authorized public keys (OpenSSH authorized_keys format)
// and the server's Ed25519 host key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "handles.h"

namespace openshell::ssh {

struct AuthorizedKey {
  KeyPtr key;
  std::string type;         // "ssh-ed25519"
  std::string fingerprint;  // "SHA256:..."
  std::string comment;
  int line = 0;
};

struct AuthorizedKeys {
  std::vector<AuthorizedKey> keys;
  // Lines that were not used, each "line N: why", for the startup log.
  std::vector<std::string> skipped;

  // The matching key's fingerprint, or nullptr when `key` is not authorized.
  const AuthorizedKey* find(ssh_key key) const;
};

// Parses the text of an authorized_keys file. Lines carrying options
// (`command=`, `from=`, `restrict`, ...) are skipped with a reason: the
// bridge cannot honour them, and ignoring a restriction would fail open.
AuthorizedKeys parse_authorized_keys(std::string_view text);

// Reads and parses `path` (bounded to 1 MiB). No usable key is an error:
// the bridge must not start without one (fail closed).
Result<AuthorizedKeys> load_authorized_keys(const std::string& path);

// "SHA256:<base64>" of a public key, as OpenSSH prints it.
std::string fingerprint(ssh_key key);

struct HostKey {
  KeyPtr key;               // private key, handed to the ssh_bind
  std::string public_line;  // "ssh-ed25519 AAAA..." for known_hosts
  std::string fingerprint;
  bool generated = false;
};

// Loads an Ed25519 private key from `path`, or generates a fresh one when
// `path` is empty. Any other key type is refused.
Result<HostKey> load_or_generate_host_key(const std::string& path);

}  // namespace openshell::ssh
