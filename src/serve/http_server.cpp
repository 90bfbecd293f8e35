// HttpServer (http_server.h): cpp-httplib's Server with lmforge's own connection loop, stream and
// worker pool. httplib 0.11 reads a request through a Stream with a per-read timeout only, keeps
// whatever body it is sent (a Content-Length above the payload limit is checked, a chunked or
// compressed body is not), binds with SO_REUSEPORT and listens with a backlog of 5. Its hooks let
// us replace the parts that matter: the per-connection loop (process_and_close_socket is
// virtual), the Stream it reads from, the task queue, the socket options, and content-reader
// routes that see the body as it is decompressed.
#include "serve/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "lmforge/core/error.h"

namespace lmforge {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHeadAllowance = 64 * 1024;  // request line and headers, on top of the body
constexpr auto kLinger = std::chrono::seconds(1);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int poll_one(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do r = ::poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r;
}

// Threads started as connections arrive, up to a maximum; a thread idle for a while ends (its
// handle is joined by the next enqueue or by shutdown). Beyond the maximum, connections wait.
class ElasticPool : public httplib::TaskQueue {
 public:
  explicit ElasticPool(size_t max_threads) : max_(std::max<size_t>(1, max_threads)) {}

  void enqueue(std::function<void()> fn) override {
    std::vector<std::thread> ended;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto id : finished_) {
        ended.push_back(std::move(threads_[id]));
        threads_.erase(id);
      }
      finished_.clear();
      jobs_.push_back(std::move(fn));
      if (jobs_.size() > idle_ && threads_.size() < max_) {
        std::thread t([this] { work(); });
        threads_[t.get_id()] = std::move(t);
      }
    }
    cv_.notify_one();
    for (auto& t : ended) t.join();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    std::map<std::thread::id, std::thread> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(threads_);
    }
    for (auto& [id, t] : all) t.join();
  }

 private:
  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      const bool woke =
          cv_.wait_for(lock, std::chrono::seconds(30), [&] { return stop_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) {
        if (stop_) return;
        if (!woke) {  // idle too long: end, unless shutdown() already took the handle
          if (threads_.count(std::this_thread::get_id()))
            finished_.push_back(std::this_thread::get_id());
          return;
        }
        continue;
      }
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;
  size_t idle_ = 0;
  bool stop_ = false;
};

// One client connection as httplib's Stream: buffered reads that fail once the request's
// deadline passes or its byte budget is spent, writes that give up on a client that does not
// read. After such a failure the library's own response is dropped and ours is sent.
class Connection : public httplib::Stream {
 public:
  enum class Failure { none, timeout, too_large };

  Connection(socket_t sock, const HttpLimits& l, const std::atomic<socket_t>& server_sock)
      : sock_(sock), l_(l), server_sock_(server_sock) {}

  // Waits for the first byte of the next request; false when the connection or server is done.
  bool wait_for_request() const {
    if (off_ < len_) return true;
    const auto until = Clock::now() + std::chrono::seconds(l_.idle_timeout_s);
    while (server_sock_ != INVALID_SOCKET) {
      const int r = poll_one(sock_, POLLIN, 100);
      if (r != 0) return r > 0;
      if (Clock::now() >= until) return false;
    }
    return false;
  }

  void start_request() {
    deadline_ = Clock::now() + std::chrono::seconds(l_.request_timeout_s);
    budget_ = 2 * l_.max_body_bytes + kHeadAllowance;
  }

  Failure failure() const { return failure_; }
  bool must_close = false;

  bool is_readable() const override { return off_ < len_ || poll_one(sock_, POLLIN, 0) > 0; }
  bool is_writable() const override {
    return failure_ == Failure::none && poll_one(sock_, POLLOUT, l_.write_timeout_s * 1000) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (failure_ != Failure::none) return -1;
    if (off_ == len_) {
      const ssize_t n = fill();
      if (n <= 0) return n;
    }
    const size_t n = std::min(size, len_ - off_);
    if (n > budget_) {
      failure_ = Failure::too_large;
      return -1;
    }
    budget_ -= n;
    std::memcpy(ptr, buf_ + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (failure_ != Failure::none) return -1;
    return send_some(ptr, size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(getsockname, ip, port);
  }
  socket_t socket() const override { return sock_; }

  // The response to a request that failed while it was read (the library's was dropped).
  void send_failure_response() {
    const bool timeout = failure_ == Failure::timeout;
    const std::string message =
        timeout ? "the request did not arrive within " + std::to_string(l_.request_timeout_s) +
                      " s (--request-timeout)"
                : "the request is larger than " + std::to_string(l_.max_body_bytes) +
                      " bytes (--max-body-bytes)";
    const std::string body = "{\"error\":{\"message\":\"" + message +
                             "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"" +
                             (timeout ? "request_timeout" : "request_too_large") + "\"}}";
    const std::string head =
        std::string("HTTP/1.1 ") + (timeout ? "408 Request Timeout" : "413 Payload Too Large") +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n";
    send_all(head + body);
  }

  // Closes the connection. When the client may still be sending (a body left unread), the
  // sending side is shut first and what arrives is read and dropped for a moment: closing a
  // socket with unread data resets it, and the client could lose the response it was sent.
  void close(bool linger) {
    if (linger) {
      ::shutdown(sock_, SHUT_WR);
      const auto until = Clock::now() + kLinger;
      char sink[16384];
      while (Clock::now() < until && poll_one(sock_, POLLIN, 100) >= 0) {
        const ssize_t n = ::recv(sock_, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
      }
    } else {
      ::shutdown(sock_, SHUT_RDWR);
    }
    ::close(sock_);
  }

 private:
  // Reads what the socket has into the buffer, waiting no later than the deadline.
  ssize_t fill() {
    for (;;) {
      const ssize_t n = ::recv(sock_, buf_, sizeof buf_, MSG_DONTWAIT);
      if (n >= 0) {
        off_ = 0;
        len_ = static_cast<size_t>(n);
        return n;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      // Waits in slices, so that a stopping server does not wait for its slowest client.
      for (;;) {
        if (server_sock_ == INVALID_SOCKET) return -1;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
        if (left <= 0) {
          failure_ = Failure::timeout;
          return -1;
        }
        if (poll_one(sock_, POLLIN, static_cast<int>(std::min<int64_t>(left, 100))) != 0) break;
      }
    }
  }

  ssize_t send_some(const char* ptr, size_t size) const {
    if (poll_one(sock_, POLLOUT, l_.write_timeout_s * 1000) <= 0) return -1;
    ssize_t n;
    do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void send_all(const std::string& s) const {
    for (size_t off = 0; off < s.size();) {
      const ssize_t n = send_some(s.data() + off, s.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  template <typename F>
  void address(F get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = -1;
    if (get(sock_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {0};
    if (a.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  socket_t sock_;
  const HttpLimits& l_;
  const std::atomic<socket_t>& server_sock_;  // INVALID_SOCKET once the server stops
  char buf_[4096];
  size_t off_ = 0, len_ = 0;
  Clock::time_point deadline_{};
  size_t budget_ = 0;
  Failure failure_ = Failure::none;
};

// The connection whose request this thread is handling (httplib gives a handler no way to
// reach its connection; a handler runs on the thread that reads the connection).
thread_local Connection* t_connection = nullptr;

struct CurrentConnection {
  explicit CurrentConnection(Connection* c) { t_connection = c; }
  ~CurrentConnection() { t_connection = nullptr; }
};

// A body the library would read: its methods with a length or chunks.
bool carries_body(const httplib::Request& req) {
  const std::string te = lower(req.get_header_value("Transfer-Encoding"));
  if (te.find("chunked") != std::string::npos) return true;
  const std::string cl = req.get_header_value("Content-Length");
  return !cl.empty() && cl.find_first_not_of('0') != std::string::npos;
}

bool library_reads_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" ||
         method == "PRI";
}

// The declared Content-Length (0 when absent); SIZE_MAX when it is not a number of bytes.
size_t content_length(const httplib::Request& req) {
  const std::string cl = req.get_header_value("Content-Length");
  if (cl.empty()) return 0;
  if (cl.find_first_not_of("0123456789") != std::string::npos) return SIZE_MAX;
  if (cl.size() > 18) return SIZE_MAX - 1;  // a number, too large for anything
  return static_cast<size_t>(std::stoull(cl));
}

bool loopback_address(const std::string& host) {
  const std::string h = lower(host);
  return h == "localhost" || h.rfind("127.", 0) == 0 || h == "::1" || h == "[::1]";
}

// Why host:port cannot be bound, found by trying it the way the server does.
std::string bind_failure(const std::string& host, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0 || res == nullptr)
    return "cannot resolve the host name";
  int err = 0;
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int s = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (s < 0) {
      err = errno;
      continue;
    }
    const int yes = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    err = ::bind(s, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    ::close(s);
    if (err != 0) break;
  }
  freeaddrinfo(res);
  switch (err) {
    case EADDRINUSE:
      return "address in use";
    case EADDRNOTAVAIL:
      return "not an address of this machine";
    case EACCES:
      return "permission denied (ports below 1024 need privileges)";
    case 0:
      return "the address could not be bound";
    default:
      return std::strerror(err);
  }
}

}  // namespace

bool is_loopback_host_header(const std::string& host_header) {
  std::string h = lower(host_header);
  if (!h.empty() && h.front() == '[') {
    const size_t close = h.find(']');
    if (close == std::string::npos) return false;
    return h.substr(0, close + 1) == "[::1]" && (close + 1 == h.size() || h[close + 1] == ':');
  }
  if (const size_t colon = h.find(':'); colon != std::string::npos) h.resize(colon);
  if (h == "localhost") return true;
  in_addr a{};
  return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// True when the Authorization header carries `Bearer KEY` (the scheme in any case, RFC 7235),
// compared in time independent of where the first difference is.
bool bearer_token_matches(const std::string& header, const std::string& key) {
  size_t i = 0;
  while (i < header.size() && header[i] == ' ') ++i;
  static const std::string scheme = "bearer";
  if (header.size() < i + scheme.size() + 1) return false;
  for (size_t k = 0; k < scheme.size(); ++k)
    if (std::tolower((unsigned char)header[i + k]) != scheme[k]) return false;
  i += scheme.size();
  if (header[i] != ' ') return false;
  while (i < header.size() && header[i] == ' ') ++i;
  size_t end = header.size();
  while (end > i && header[end - 1] == ' ') --end;
  const std::string given = header.substr(i, end - i);
  unsigned char diff = given.size() == key.size() ? 0 : 1;
  for (size_t k = 0; k < given.size(); ++k) diff |= (unsigned char)(given[k] ^ key[k % key.size()]);
  return diff == 0;
}

void HttpServer::close_connection_after_response() {
  if (t_connection) t_connection->must_close = true;
}

HttpServer::HttpServer(const HttpLimits& limits, HttpErrorWriter write_error)
    : limits_(limits), write_error_(std::move(write_error)) {
  // SO_REUSEADDR only: a restart may bind while old connections linger in TIME_WAIT, but a
  // second server cannot listen on a port in use (httplib's default adds SO_REUSEPORT).
  set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // A response is written as head then body: without TCP_NODELAY the body of a kept-alive
  // connection's answer waits for the client's delayed ACK (40 ms a request).
  set_tcp_nodelay(true);
  set_keep_alive_max_count(100);
  set_keep_alive_timeout(limits_.idle_timeout_s);
  set_read_timeout(limits_.request_timeout_s);
  set_write_timeout(limits_.write_timeout_s);
  set_payload_max_length(limits_.max_body_bytes);
  const size_t max_threads = static_cast<size_t>(std::max(1, limits_.max_connections));
  new_task_queue = [max_threads] { return new ElasticPool(max_threads); };
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return check_request(req, res);
  });
  set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (content_length(req) <= limits_.max_body_bytes) return 100;
    close_connection_after_response();
    write_error_(res, 413,
                 "the request body is larger than " + std::to_string(limits_.max_body_bytes) +
                     " bytes (--max-body-bytes)",
                 "request_too_large");
    return 413;
  });
}

httplib::Server::HandlerResponse HttpServer::check_request(const httplib::Request& req,
                                                           httplib::Response& res) {
  const bool body = carries_body(req);
  // A body no route reads stays in the connection, where it would be taken for a request.
  if (body && !(library_reads_body(req.method) && body_routes_.count(req.method + " " + req.path)))
    close_connection_after_response();
  auto refuse = [&](int status, const std::string& message, const std::string& code) {
    if (body) close_connection_after_response();  // its body was not read
    write_error_(res, status, message, code);
    return HandlerResponse::Handled;
  };
  const std::string host = req.get_header_value("Host");
  if (loopback_ && !host.empty() && !is_loopback_host_header(host))
    return refuse(403,
                  "Host '" + host + "' is not this server: it listens on " + host_ +
                      " and answers requests for localhost, 127.0.0.1 or [::1] only",
                  "forbidden_host");
  if (req.has_header("Origin")) {
    const std::string origin = req.get_header_value("Origin");
    // https: the page may come through a TLS proxy that forwards this Host.
    if (host.empty() ||
        (lower(origin) != "http://" + lower(host) && lower(origin) != "https://" + lower(host)))
      return refuse(403,
                    "cross-origin request refused: Origin '" + origin +
                        "' is not this server (http://" + host + ")",
                    "cross_origin");
  }
  if (body && library_reads_body(req.method)) {
    if (!body_routes_.count(req.method + " " + req.path))
      return refuse(404, "Unknown request URL: " + req.method + " " + req.path, "unknown_url");
    // httplib inflates gzip, deflate and br, and passes any other coding on as if it were none.
    const std::string coding = req.get_header_value("Content-Encoding");
    if (!coding.empty() && coding != "identity" && coding != "gzip" && coding != "deflate" &&
        coding != "br")
      return refuse(
          415, "Content-Encoding '" + coding + "' is not supported (gzip, deflate, br or none)",
          "unsupported_encoding");
    if (content_length(req) == SIZE_MAX)
      return refuse(400,
                    "Content-Length '" + req.get_header_value("Content-Length") +
                        "' is not a number of bytes",
                    "bad_content_length");
    if (content_length(req) > limits_.max_body_bytes)
      return refuse(413,
                    "the request body is larger than " + std::to_string(limits_.max_body_bytes) +
                        " bytes (--max-body-bytes)",
                    "request_too_large");
  }
  if (guard_ && guard_(req, res) == HandlerResponse::Handled) {
    if (body) close_connection_after_response();  // answered without reading the body
    return HandlerResponse::Handled;
  }
  return HandlerResponse::Unhandled;
}

void HttpServer::post(const std::string& path, BodyHandler fn) {
  body_routes_.insert("POST " + path);
  Post(path, [this, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    std::string body;
    if (carries_body(req)) {
      const size_t cap = limits_.max_body_bytes;
      bool too_large = false;
      const bool ok = reader([&](const char* data, size_t n) {
        if (body.size() + n > cap) {  // stop here: a compressed body is inflated no further
          too_large = true;
          return false;
        }
        body.append(data, n);
        return true;
      });
      if (!ok) {
        close_connection_after_response();
        if (too_large)
          write_error_(res, 413,
                       "the request body is larger than " + std::to_string(cap) +
                           " bytes once decompressed (--max-body-bytes)",
                       "request_too_large");
        else if (res.status == 415)
          write_error_(res, 415,
                       "Content-Encoding '" + req.get_header_value("Content-Encoding") +
                           "' is not supported (gzip, deflate, br or none)",
                       "unsupported_encoding");
        else
          write_error_(
              res, 400,
              "the request body could not be read (cut short, or not valid " +
                  (req.has_header("Content-Encoding") ? req.get_header_value("Content-Encoding")
                                                      : std::string("chunked encoding")) +
                  ")",
              "bad_body");
        return;
      }
    }
    fn(req, res, body);
  });
}

int HttpServer::bind_or_throw(const std::string& who, const std::string& host, int port) {
  host_ = host;
  loopback_ = loopback_address(host);
  const int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    throw RuntimeError("[" + who + "] cannot bind " + host + ":" + std::to_string(port) + ": " +
                       bind_failure(host, port));
  // httplib listened with its compiled-in backlog of 5; listen() again only resizes the queue.
  ::listen(svr_sock_, SOMAXCONN);
  return bound;
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  Connection conn(sock, limits_, svr_sock_);
  CurrentConnection current(&conn);
  bool ok = false;
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    if (!conn.wait_for_request()) break;
    conn.start_request();
    bool closed = false;
    ok = process_request(conn, left == 1, closed, nullptr);
    if (conn.failure() != Connection::Failure::none) {
      conn.send_failure_response();
      break;
    }
    if (!ok || closed || conn.must_close) break;
  }
  conn.close(conn.failure() != Connection::Failure::none || conn.must_close);
  return ok;
}

}  // namespace lmforge
