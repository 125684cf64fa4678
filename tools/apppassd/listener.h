// The listening socket of apppassd: the one systemd passes (socket activation:
// LISTEN_PID is this process and LISTEN_FDS is 1, the socket is fd 3) or one bound here
// on --socket.
//
// Bound here: the parent directory is created (0755) when missing; a socket file left by
// a daemon that is gone is replaced (only a socket, lstat, that nobody answers a connect
// on: a live daemon is never stolen from, nor any other file removed); the socket is made
// 0666, since everyone may ask and the daemon decides by SO_PEERCRED (handlers.h). Its
// file is removed again when the Listener is destroyed, if it is still ours.
// Not thread-safe (main.cc builds it before the workers start).
#pragma once

#include <sys/types.h>

#include <string>

#include "files.h"
#include "status.h"

namespace apppass::daemon {

class Listener {
 public:
  Listener() = default;
  ~Listener();
  Listener(Listener&&) = delete;
  Listener& operator=(Listener&&) = delete;

  // The socket systemd passed, when LISTEN_PID/LISTEN_FDS name this process; else binds
  // `path`. The variables are unset either way (children must not see them).
  Status Open(const std::string& path);
  int fd() const { return fd_.get(); }
  bool activated() const { return activated_; }
  // Where it listens, for the log ("systemd socket" or the path).
  std::string where() const { return activated_ ? "the socket systemd passed" : path_; }

 private:
  Status Bind(const std::string& path);

  Fd fd_;
  bool activated_ = false;
  std::string path_;  // bound here: removed at exit when still this inode
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace apppass::daemon
