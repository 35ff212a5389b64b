//===- AtomicFile.cpp - Outputs that appear whole or not at all ----------===//
#include "driver/AtomicFile.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tfc {
namespace {

// The signal-cleanup table. A handler may only call async-signal-safe
// functions, so the paths are kept as fixed C strings and a slot is marked
// live only after its path is complete.
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
char cleanupPaths[kSlots][kPathMax];
volatile sig_atomic_t cleanupLive[kSlots];
bool handlersInstalled = false;

extern "C" void removeAndReraise(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (cleanupLive[i]) {
      if (unlink(cleanupPaths[i]) != 0)
        rmdir(cleanupPaths[i]);
    }
  signal(sig, SIG_DFL);
  raise(sig);
}

void installHandlers() {
  if (handlersInstalled)
    return;
  handlersInstalled = true;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old;
    // Leave a signal the parent made us ignore (nohup) ignored.
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = removeAndReraise;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
}

mode_t currentUmask() {
  mode_t mask = umask(0);
  umask(mask);
  return mask;
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Writes all of `size` bytes to fd, retrying short writes.
bool writeAll(int fd, const char *data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

} // namespace

int registerCleanupPath(const std::string &path) {
  if (path.size() >= kPathMax)
    return -1;
  installHandlers();
  for (int i = 0; i < kSlots; ++i)
    if (!cleanupLive[i]) {
      std::memcpy(cleanupPaths[i], path.c_str(), path.size() + 1);
      cleanupLive[i] = 1;
      return i;
    }
  return -1;
}

void unregisterCleanupPath(int slot) {
  if (slot >= 0 && slot < kSlots)
    cleanupLive[slot] = 0;
}

bool AtomicFile::create(const std::string &finalPath, std::string &error) {
  discard();
  target = finalPath;
  std::string pattern =
      directoryOf(finalPath) + "/." + baseName(finalPath) + ".tmp-XXXXXX";
  int fd = mkstemp(pattern.data());
  if (fd < 0) {
    error = finalPath + ": cannot create a temporary file next to it: " +
            std::strerror(errno);
    return false;
  }
  close(fd);
  temp = pattern;
  slot = registerCleanupPath(temp);
  return true;
}

bool AtomicFile::commit(mode_t mode, std::string &error) {
  if (temp.empty()) {
    error = target + ": nothing was written";
    return false;
  }
  struct stat st;
  if (stat(temp.c_str(), &st) != 0) {
    error = target + ": the temporary file " + temp + " is gone";
    discard();
    return false;
  }
  if (chmod(temp.c_str(), mode & ~currentUmask()) != 0 ||
      std::rename(temp.c_str(), target.c_str()) != 0) {
    error = target + ": cannot move " + temp +
            " into place: " + std::strerror(errno);
    discard();
    return false;
  }
  unregisterCleanupPath(slot);
  slot = -1;
  temp.clear();
  return true;
}

void AtomicFile::discard() {
  if (!temp.empty())
    unlink(temp.c_str());
  unregisterCleanupPath(slot);
  slot = -1;
  temp.clear();
}

bool writeFileAtomically(const std::string &path, const std::string &bytes,
                         std::string &error, mode_t mode) {
  AtomicFile file;
  if (!file.create(path, error))
    return false;
  int fd = open(file.tempPath().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  bool ok = fd >= 0 && writeAll(fd, bytes.data(), bytes.size());
  int savedErrno = errno;
  if (fd >= 0 && close(fd) != 0)
    ok = false;
  if (!ok) {
    error = path + ": cannot write: " + std::strerror(savedErrno);
    return false;
  }
  return file.commit(mode, error);
}

bool copyFileAtomically(const std::string &from, const std::string &to,
                        std::string &error, mode_t mode) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    error = from + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::string bytes;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      bytes.append(buf, size_t(n));
  int savedErrno = errno;
  close(in);
  if (n < 0) {
    error = from + ": cannot read: " + std::strerror(savedErrno);
    return false;
  }
  return writeFileAtomically(to, bytes, error, mode);
}

} // namespace tfc
