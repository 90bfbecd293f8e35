// The HTTP server under both of lmforge's servers (`serve`, `label`): Debian's cpp-httplib 0.11
// (a compiled library, so its compile-time limits cannot be changed) with the limits a hostile or
// careless client needs, kept in one place:
// - every request must arrive whole within request_timeout_s (head and body; a client that sends
//   one header line every 2 s is answered 408 and disconnected), and its bytes on the wire are
//   capped at 2 x max_body_bytes + 64 KiB;
// - a body is read only by a route that asked for one (post()), decompressed (gzip, deflate, br)
//   into at most max_body_bytes: a larger body is answered 413 without being kept, a compressed
//   one is inflated no further than the cap;
// - connections are served by threads started on demand, up to max_connections, so slow clients
//   do not hold up the others; idle threads end after a while;
// - the address is bound without SO_REUSEPORT (httplib's default lets a second server share the
//   port), the listen backlog is the kernel's maximum (httplib's is 5: connections were reset
//   under load), and a failure to bind says why ("address in use");
// - cross-site requests are refused: an Origin header other than this server's own, and, when
//   bound to a loopback address, a Host that is not a loopback name (DNS rebinding).
// Not here: routes, authentication, the JSON of the APIs (openai_server.cpp, label_server.cpp).
#pragma once
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
// Debian's libcpp-httplib is built with OpenSSL, which adds a member to httplib::Request: the
// header must be read with the same setting or the library and this file disagree on the layout.
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <cstddef>
#include <functional>
#include <set>
#include <string>

namespace lmforge {

struct HttpLimits {
  size_t max_body_bytes = 4u << 20;  // a request body, after decompression
  int request_timeout_s = 10;        // to receive one whole request (head and body)
  int idle_timeout_s = 5;            // a kept-alive connection waits this long for the next one
  int write_timeout_s = 10;          // a client that stops reading is dropped after this long
  int max_connections = 256;         // served at once (threads start on demand); more wait
};

// Writes an error response in the server's own JSON shape; code may be empty.
using HttpErrorWriter = std::function<void(httplib::Response& res, int status,
                                           const std::string& message, const std::string& code)>;

class HttpServer : public httplib::Server {
 public:
  using BodyHandler = std::function<void(const httplib::Request& req, httplib::Response& res,
                                         const std::string& body)>;

  HttpServer(const HttpLimits& limits, HttpErrorWriter write_error);

  // A POST route whose body is read (decompressed, capped) before fn runs. Only these routes
  // read bodies: any other request that carries one is refused and its connection closed.
  void post(const std::string& path, BodyHandler fn);

  // Runs after the built-in checks (size, origin) and before routing, like httplib's
  // set_pre_routing_handler (which this class uses itself; do not call that one).
  void set_guard(HandlerWithResponse guard) { guard_ = std::move(guard); }

  // Binds host:port (port 0: any free one) and returns the port. Throws RuntimeError
  // "[who] cannot bind HOST:PORT: address in use" (or the reason it could not).
  int bind_or_throw(const std::string& who, const std::string& host, int port);

  const HttpLimits& limits() const { return limits_; }

  // Closes the connection of the request being handled on this thread once its response is
  // written (its body was not read to the end, so the next bytes are not a request).
  static void close_connection_after_response();

 private:
  bool process_and_close_socket(socket_t sock) override;
  HandlerResponse check_request(const httplib::Request& req, httplib::Response& res);

  HttpLimits limits_;
  HttpErrorWriter write_error_;
  HandlerWithResponse guard_;
  std::set<std::string> body_routes_;  // "POST /path"
  std::string host_;                   // the address bound
  bool loopback_ = true;               // bound to a loopback address: check Host
};

// True when the Host header names this machine's loopback interface (localhost, 127.x.y.z,
// [::1]) with or without a port.
bool is_loopback_host_header(const std::string& host);

// True when an Authorization header value is `Bearer KEY` (the scheme in any case, RFC 7235;
// spaces around the token ignored), compared in a time that does not depend on where the first
// difference is.
bool bearer_token_matches(const std::string& authorization, const std::string& key);

}  // namespace lmforge
