// A built `lmforge` command that serves HTTP on a port of its own choosing (`--port 0`), run as a
// child process for tests: stdout is discarded, stderr goes to a file, and the port is read from
// the URL the command prints there at start. One OpenMP thread, so that parallel tests do not
// contend. Not here: the HTTP requests themselves (each test knows its API).
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "lmforge/core/file_util.h"

namespace lmforge::test {

struct ServerProcess {
  pid_t pid = -1;
  int port = 0;
  std::string err_path;

  // Runs `lmforge <args>` and waits (up to ~60 s) until stderr shows a URL matching url_regex,
  // whose first group is the port; a child that exits first leaves port at 0 (and fails the test).
  ServerProcess(const std::string& args, std::string err_file, const std::string& url_regex)
      : err_path(std::move(err_file)) {
    pid = fork();
    if (pid == 0) {
      if (!std::freopen(err_path.c_str(), "w", stderr)) _exit(126);
      if (!std::freopen("/dev/null", "w", stdout)) _exit(126);
      setenv("OMP_NUM_THREADS", "1", 1);
      const std::string cmd = std::string("exec ") + LMFORGE_BINARY + " " + args;
      execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
      _exit(127);
    }
    const std::regex url(url_regex);
    for (int i = 0; i < 1200 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::smatch m;
      const std::string err = read_file(err_path);
      if (std::regex_search(err, m, url)) port = std::stoi(m[1]);
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        break;
      }
    }
    EXPECT_GT(port, 0) << read_file(err_path);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { stop(SIGKILL); }

  // Sends sig and returns how the process ended (the raw wait status; -1 if it was not running).
  int stop(int sig) {
    if (pid <= 0) return -1;
    kill(pid, sig);
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return st;
  }
  std::string log() const { return read_file(err_path); }
};

}  // namespace lmforge::test
