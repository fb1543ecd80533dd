// Gateway key rotation: the authorized_keys file is watched and re-read
// while the bridge runs, so that a rotated key works and a removed one is
// refused for new connections without a restart. Sessions already
// authenticated are not touched.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "error.h"
#include "keys.h"

namespace openshell::ssh {

class AuthorizedKeysWatch {
 public:
  // Called with the new keys after every change that parses to at least one
  // usable key. A file that is missing, unreadable or without a usable key
  // keeps the last good keys and logs an error.
  using OnChange = std::function<void(AuthorizedKeys)>;

  // Watches the file's directory, not the file: Kubernetes updates a mounted
  // Secret or ConfigMap by swapping the `..data` symlink beside it, which a
  // watch on the file itself never sees (and editors replace files by rename).
  static Result<std::unique_ptr<AuthorizedKeysWatch>> start(boost::asio::io_context& io,
                                                            std::string path,
                                                            OnChange on_change);
  ~AuthorizedKeysWatch();
  AuthorizedKeysWatch(const AuthorizedKeysWatch&) = delete;
  AuthorizedKeysWatch& operator=(const AuthorizedKeysWatch&) = delete;

 private:
  struct Impl;
  explicit AuthorizedKeysWatch(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace openshell::ssh
