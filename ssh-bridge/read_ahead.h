// Larger reads from an SSH client's socket than libssh makes itself.
//
// libssh 0.10 reads its socket 4 KiB at a time, one poll(2) and one recv(2)
// per 4 KiB: a 1 GiB upload costs 265,000 of each, and each small read also
// makes the kernel consider a window update. The build links libssh with its
// recv, poll and close renamed to the three functions below
// (the top-level meson.build), so for a socket registered here one recv takes
// everything queued, up to kChunk, and libssh is served the rest from memory:
// poll reports such a socket readable while bytes wait, and close drops them.
// A socket not registered, and any call with flags, goes straight to the
// kernel. Nothing is held for an idle connection: a drained buffer goes back
// to a single spare.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstddef>

namespace openshell::ssh::read_ahead {

inline constexpr std::size_t kChunk = 128 * 1024;

// From now until it is closed through openshell_ssh_close, reads of `fd` by
// libssh read ahead.
void enable(int fd);
// Bytes received from `fd` that libssh has not taken yet.
std::size_t pending(int fd);

}  // namespace openshell::ssh::read_ahead

extern "C" {
ssize_t openshell_ssh_recv(int fd, void* buf, size_t len, int flags);
int openshell_ssh_poll(struct pollfd* fds, nfds_t count, int timeout);
int openshell_ssh_close(int fd);
}
