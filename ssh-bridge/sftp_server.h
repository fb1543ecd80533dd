// The built-in SFTP server (protocol version 3 with OpenSSH's extensions),
// run inside the sandbox as the sandbox user by `openshell-supervisor
// sftp-server`, so sftp, scp and the file half of rsync work in images that
// have no OpenSSH. It speaks on two fds and needs nothing else.
#pragma once

#include <dirent.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "unique_fd.h"

namespace openshell::sftp {

class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Handles one packet body (type byte onward) and returns the framed reply
  // (empty when there is none). Sets `fatal` when the session must end.
  std::string handle(std::string_view body, bool& fatal);

 private:
  struct Handle {
    bool in_use = false;
    std::uint32_t generation = 0;
    UniqueFd fd;
    DIR* dir = nullptr;
    std::string path;
    bool wrote = false;
  };
  Handle* lookup(std::string_view handle, bool want_dir);
  std::string new_handle(UniqueFd fd, DIR* dir, std::string path);
  void release(Handle& h);

  bool initialized_ = false;
  std::vector<Handle> handles_;
};

// Serves SFTP until EOF on `in_fd`; 0 on a clean end, 1 on a protocol or
// I/O error. Both fds are used blocking.
int run_sftp_server(int in_fd, int out_fd);

}  // namespace openshell::sftp
