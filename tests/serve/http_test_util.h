// Raw HTTP for the server hardening tests: requests written byte by byte on a socket (so a test
// can send what no well-behaved client would: a wrong length, a slow head, a compressed bomb),
// gzip of a body, and the peak memory of a process. Not here: starting servers
// (server_process.h).
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>

namespace lmforge::test {

// A blocking TCP connection to 127.0.0.1:port (-1 on failure).
inline int connect_local(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

// Sends everything it can (false once the peer stops taking bytes).
inline bool send_all(int s, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    const ssize_t n = ::send(s, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// What the peer sends until it closes or timeout_ms pass without a byte; *reset is set when the
// connection was reset.
inline std::string read_until_close(int s, int timeout_ms, bool* reset = nullptr) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    const ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n < 0 && reset && errno == ECONNRESET) *reset = true;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One request on a fresh connection; returns the whole response ("" when none came).
inline std::string raw_exchange(int port, const std::string& request, int timeout_ms = 30000) {
  const int s = connect_local(port);
  if (s < 0) return "";
  send_all(s, request);
  std::string r = read_until_close(s, timeout_ms);
  ::close(s);
  return r;
}

// The status code of a raw response (0 when there is none).
inline int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

inline std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

// A POST with a JSON body and the given extra header lines (each ending in \r\n).
inline std::string post_request(const std::string& path, const std::string& body,
                                const std::string& extra = "",
                                const std::string& type = "application/json") {
  return "POST " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

inline std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Peak resident memory of a process (VmHWM), in MiB; -1 when unreadable.
inline double peak_rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return -1;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace lmforge::test
