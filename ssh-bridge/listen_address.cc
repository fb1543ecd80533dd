#include "listen_address.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

namespace openshell::ssh {

namespace asio = boost::asio;

Result<std::optional<asio::ip::tcp::endpoint>> parse_tcp_listen(std::string_view text) {
  if (text == "off") return std::optional<asio::ip::tcp::endpoint>{};
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("listen address \"" + std::string(text) + "\": expected [IPV6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return fail("listen address \"" + std::string(text) +
                  "\": expected ADDRESS:PORT, [IPV6]:PORT or off");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || port.empty()) {
    return fail("listen address \"" + std::string(text) + "\": bad port");
  }
  boost::system::error_code error;
  auto address = asio::ip::make_address(std::string(host), error);
  if (error) {
    return fail("listen address \"" + std::string(text) + "\": \"" + std::string(host) +
                "\" is not an IP address");
  }
  return std::optional<asio::ip::tcp::endpoint>(
      asio::ip::tcp::endpoint(address, static_cast<unsigned short>(value)));
}

Result<asio::local::stream_protocol::endpoint> parse_unix_listen(std::string_view text) {
  // sockaddr_un.sun_path is 108 bytes including the terminator.
  if (text.empty() || text.size() > 107) {
    return fail("socket path \"" + std::string(text) + "\": empty or longer than 107 bytes");
  }
  if (text.front() == '@') {
    std::string name(text);
    name[0] = '\0';  // unix(7): a leading NUL selects the abstract namespace
    return asio::local::stream_protocol::endpoint(name);
  }
  if (text.front() != '/') return fail("socket path \"" + std::string(text) + "\" is not absolute");
  std::string path(text);
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir " + dir);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) return fail_errno("stat " + dir);
    if (!S_ISDIR(st.st_mode)) return fail(dir + " is not a directory");
    // Only the supervisor may reach the socket: the directory is what makes
    // the window between bind and chmod harmless.
    if (st.st_uid != ::geteuid()) return fail(dir + " is not owned by the supervisor's user");
    if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
      return fail_errno("chmod 0700 " + dir);
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail(path + " exists and is not a socket");
    if (::unlink(path.c_str()) != 0) return fail_errno("unlink stale socket " + path);
  }
  return asio::local::stream_protocol::endpoint(path);
}

std::optional<asio::ip::tcp::endpoint> fallback_to_ipv4(const asio::ip::tcp::endpoint& endpoint,
                                                        const boost::system::error_code& open_error) {
  if (open_error != asio::error::address_family_not_supported) return std::nullopt;
  if (!endpoint.address().is_v6() || !endpoint.address().is_unspecified()) return std::nullopt;
  return asio::ip::tcp::endpoint(asio::ip::address_v4::any(), endpoint.port());
}

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

}  // namespace openshell::ssh
