//===- AtomicFile.h - Outputs that appear whole or not at all -----*- C++
//-*-===//
//
// Everything `tfc compile` and `tfc --emit ... -o` write (an executable, a
// static library, a header, an emitted stage) is first written under a
// unique temporary name in the output's own directory, then renamed into
// place: rename() within one file system is atomic, so an interrupted or
// failed compile never leaves a truncated file under the real name (a
// half-written libNAME.a would link later and fail at run time), and a file
// already there stays as it was. The temporary file is removed on error, on
// destruction, and on SIGINT/SIGTERM/SIGHUP (see registerCleanupPath).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_DRIVER_ATOMICFILE_H
#define TFC_DRIVER_ATOMICFILE_H

#include <string>
#include <sys/types.h>

namespace tfc {

/// One output in progress: create() makes DIR/.NAME.tmp-XXXXXX next to
/// `finalPath`; a tool (the linker, ar) or the caller writes tempPath();
/// commit() sets the mode and renames it onto finalPath.
class AtomicFile {
public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;
  ~AtomicFile() { discard(); }

  bool create(const std::string &finalPath, std::string &error);
  const std::string &tempPath() const { return temp; }
  /// `mode` is masked by the process umask (0777 for executables, 0666 for
  /// data), as a file created by open() would be.
  bool commit(mode_t mode, std::string &error);
  void discard(); // removes the temporary file, if any

private:
  std::string target, temp;
  int slot = -1; // in the signal-cleanup table
};

/// Writes `bytes` to `path` atomically (mode 0666 & ~umask).
bool writeFileAtomically(const std::string &path, const std::string &bytes,
                         std::string &error, mode_t mode = 0666);

/// Copies the file `from` to `to` atomically.
bool copyFileAtomically(const std::string &from, const std::string &to,
                        std::string &error, mode_t mode = 0666);

/// Paths removed (unlink, then rmdir) if the process gets SIGINT, SIGTERM or
/// SIGHUP before unregisterCleanupPath; the handler then re-raises the
/// signal. Returns a slot, or -1 when the table (64 paths) is full.
int registerCleanupPath(const std::string &path);
void unregisterCleanupPath(int slot);

} // namespace tfc

#endif // TFC_DRIVER_ATOMICFILE_H
