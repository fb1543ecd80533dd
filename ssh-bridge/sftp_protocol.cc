#include "sftp_protocol.h"

namespace openshell::sftp {

namespace {
// ATTRS may carry extended pairs; OpenSSH never sends them, so a handful is
// plenty and a bound keeps a hostile count from looping for long.
constexpr std::uint32_t kMaxExtendedAttrs = 64;
}  // namespace

bool Reader::need(std::size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

std::uint8_t Reader::u8() {
  if (!need(1)) return 0;
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::uint32_t Reader::u32() {
  if (!need(4)) return 0;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_++]);
  return v;
}

std::uint64_t Reader::u64() {
  std::uint64_t high = u32();
  std::uint64_t low = u32();
  return (high << 32) | low;
}

std::string_view Reader::string() {
  std::uint32_t len = u32();
  if (!need(len)) return {};
  std::string_view s = data_.substr(pos_, len);
  pos_ += len;
  return s;
}

std::string Reader::path() {
  std::string_view s = string();
  if (s.find('\0') != std::string_view::npos) {
    ok_ = false;
    return {};
  }
  return std::string(s);
}

Attrs Reader::attrs() {
  Attrs a;
  a.flags = u32();
  if (a.flags & kAttrSize) a.size = u64();
  if (a.flags & kAttrUidGid) {
    a.uid = u32();
    a.gid = u32();
  }
  if (a.flags & kAttrPermissions) a.permissions = u32();
  if (a.flags & kAttrAcModTime) {
    a.atime = u32();
    a.mtime = u32();
  }
  if (a.flags & kAttrExtended) {
    std::uint32_t count = u32();
    if (count > kMaxExtendedAttrs) ok_ = false;
    for (std::uint32_t i = 0; ok_ && i < count; ++i) {
      string();
      string();
    }
  }
  return a;
}

Writer::Writer(std::uint8_t type) : buf_(4, '\0') {
  u8(type);
}

Writer& Writer::u8(std::uint8_t v) {
  buf_.push_back(static_cast<char>(v));
  return *this;
}

Writer& Writer::u32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    buf_.push_back(static_cast<char>((v >> shift) & 0xff));
  return *this;
}

Writer& Writer::u64(std::uint64_t v) {
  u32(static_cast<std::uint32_t>(v >> 32));
  return u32(static_cast<std::uint32_t>(v));
}

Writer& Writer::string(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  buf_.append(s);
  return *this;
}

Writer& Writer::attrs(const Attrs& a) {
  std::uint32_t flags = a.flags & ~static_cast<std::uint32_t>(kAttrExtended);
  u32(flags);
  if (flags & kAttrSize) u64(a.size);
  if (flags & kAttrUidGid) u32(a.uid).u32(a.gid);
  if (flags & kAttrPermissions) u32(a.permissions);
  if (flags & kAttrAcModTime) u32(a.atime).u32(a.mtime);
  return *this;
}

std::string Writer::finish() {
  auto len = static_cast<std::uint32_t>(buf_.size() - 4);
  for (int i = 0; i < 4; ++i) buf_[i] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
  return std::move(buf_);
}

std::optional<Frame> next_frame(std::string_view buffer, bool& too_large) {
  too_large = false;
  if (buffer.size() < 4) return std::nullopt;
  Reader r(buffer.substr(0, 4));
  std::uint32_t len = r.u32();
  if (len == 0 || len > kMaxPacket) {
    too_large = true;
    return std::nullopt;
  }
  if (buffer.size() - 4 < len) return std::nullopt;
  return Frame{buffer.substr(4, len), 4 + static_cast<std::size_t>(len)};
}

}  // namespace openshell::sftp
