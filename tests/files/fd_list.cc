// Prints the descriptors this process was started with, one "FD TARGET" line each
// (readlink of /proc/self/fd/FD), for the descriptor leak tests: whatever a host process
// or the admin tool leaked into a program it executed shows up here.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 2;
  const int self = dirfd(d);
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd == self) continue;
    char path[64], target[4096];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    std::printf("%d %s\n", fd, target);
  }
  closedir(d);
  return 0;
}
