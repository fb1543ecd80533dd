// SFTP version 3 wire format (draft-ietf-secsh-filexfer-02): bounds-checked
// readers and writers for the packets of the built-in SFTP server. Every
// byte comes from an untrusted client; a read past the end never happens, it
// marks the reader failed instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace openshell::sftp {

// OpenSSH's sftp-server limit (SFTP_MAX_MSG_LENGTH): 256 KiB per packet.
constexpr std::uint32_t kMaxPacket = 256 * 1024;
// Largest READ answered and WRITE expected, leaving room for headers.
constexpr std::uint32_t kMaxData = kMaxPacket - 1024;

enum Type : std::uint8_t {
  kInit = 1,
  kVersion = 2,
  kOpen = 3,
  kClose = 4,
  kRead = 5,
  kWrite = 6,
  kLstat = 7,
  kFstat = 8,
  kSetstat = 9,
  kFsetstat = 10,
  kOpendir = 11,
  kReaddir = 12,
  kRemove = 13,
  kMkdir = 14,
  kRmdir = 15,
  kRealpath = 16,
  kStat = 17,
  kRename = 18,
  kReadlink = 19,
  kSymlink = 20,
  kStatus = 101,
  kHandle = 102,
  kData = 103,
  kName = 104,
  kAttrs = 105,
  kExtended = 200,
  kExtendedReply = 201,
};

enum Status : std::uint32_t {
  kOk = 0,
  kEof = 1,
  kNoSuchFile = 2,
  kPermissionDenied = 3,
  kFailure = 4,
  kBadMessage = 5,
  kNoConnection = 6,
  kConnectionLost = 7,
  kOpUnsupported = 8,
};

enum AttrFlags : std::uint32_t {
  kAttrSize = 0x1,
  kAttrUidGid = 0x2,
  kAttrPermissions = 0x4,
  kAttrAcModTime = 0x8,
  kAttrExtended = 0x80000000,
};

enum OpenFlags : std::uint32_t {
  kOpenRead = 0x1,
  kOpenWrite = 0x2,
  kOpenAppend = 0x4,
  kOpenCreat = 0x8,
  kOpenTrunc = 0x10,
  kOpenExcl = 0x20,
};

struct Attrs {
  std::uint32_t flags = 0;
  std::uint64_t size = 0;
  std::uint32_t uid = 0, gid = 0;
  std::uint32_t permissions = 0;
  std::uint32_t atime = 0, mtime = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::uint8_t u8();
  std::uint32_t u32();
  std::uint64_t u64();
  // A length-prefixed string; its bytes stay in the packet.
  std::string_view string();
  // A string that names a path: no NUL bytes allowed (they would truncate).
  std::string path();
  Attrs attrs();
  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }

 private:
  bool need(std::size_t n);
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  // Starts a packet: 4 length bytes filled in by finish().
  explicit Writer(std::uint8_t type);
  Writer& u8(std::uint8_t v);
  Writer& u32(std::uint32_t v);
  Writer& u64(std::uint64_t v);
  Writer& string(std::string_view s);
  Writer& attrs(const Attrs& a);
  // Fills in the length and hands the packet over; the writer is spent.
  std::string finish();

 private:
  std::string buf_;
};

// When `buffer` starts with a whole packet, its body (type byte onward) and
// the bytes it spans; nullopt when more input is needed. `too_large` is set
// for a length beyond kMaxPacket (or 0), which ends the session.
struct Frame {
  std::string_view body;
  std::size_t consumed = 0;
};
std::optional<Frame> next_frame(std::string_view buffer, bool& too_large);

}  // namespace openshell::sftp
