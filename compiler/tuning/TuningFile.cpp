//===- TuningFile.cpp - Per-kernel schedule parameters on disk -----------===//
#include "tuning/TuningFile.h"

#include "driver/AtomicFile.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tfc {
namespace {

constexpr int64_t kMaxParam = 4096; // as KernelAttr.cpp checks desc keys

bool isSymbolChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/// The field of `t` that `key` names, or nullptr.
int64_t *field(KernelTuning &t, const std::string &key) {
  if (key == "panel")
    return &t.panel;
  if (key == "tile_rows")
    return &t.tileRows;
  if (key == "query_tile")
    return &t.queryTile;
  return nullptr;
}

} // namespace

bool parseTuning(const std::string &text, const std::string &path,
                 std::map<std::string, KernelTuning> &tuning,
                 std::string &error) {
  std::map<std::string, KernelTuning> result;
  std::map<std::string, int> firstLine;
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    std::string where = path + ":" + std::to_string(lineNo) + ": ";
    size_t hash = line.find('#');
    if (hash != std::string::npos)
      line.erase(hash);
    std::istringstream words(line);
    std::string symbol;
    if (!(words >> symbol))
      continue; // blank or comment only
    for (char c : symbol)
      if (!isSymbolChar(c)) {
        error = where +
                "expected a kernel symbol (letters, digits, '_'), "
                "found '" +
                symbol + "'";
        return false;
      }
    auto seen = firstLine.find(symbol);
    if (seen != firstLine.end()) {
      error = where + "duplicate kernel '" + symbol + "' (first at line " +
              std::to_string(seen->second) + ")";
      return false;
    }
    KernelTuning t;
    std::string word;
    int count = 0;
    while (words >> word) {
      size_t eq = word.find('=');
      if (eq == std::string::npos) {
        error = where + "kernel '" + symbol +
                "': expected KEY=VALUE (panel, tile_rows, query_tile), "
                "found '" +
                word + "'";
        return false;
      }
      std::string key = word.substr(0, eq), value = word.substr(eq + 1);
      int64_t *slot = field(t, key);
      if (!slot) {
        error = where + "kernel '" + symbol + "': unknown key '" + key +
                "' (expected panel, tile_rows or query_tile)";
        return false;
      }
      if (*slot != 0) {
        error =
            where + "kernel '" + symbol + "': key '" + key + "' given twice";
        return false;
      }
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE || v < 1 ||
          v > kMaxParam) {
        error = where + "kernel '" + symbol + "': " + key +
                ": expected an integer in [1, " + std::to_string(kMaxParam) +
                "], found '" + value + "'";
        return false;
      }
      *slot = v;
      ++count;
    }
    if (count == 0) {
      error = where + "kernel '" + symbol +
              "': expected at least one KEY=VALUE (panel, tile_rows, "
              "query_tile)";
      return false;
    }
    result[symbol] = t;
    firstLine[symbol] = lineNo;
  }
  tuning = std::move(result);
  return true;
}

bool readTuningFile(const std::string &path,
                    std::map<std::string, KernelTuning> &tuning,
                    std::string &error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = path + ": cannot open the tuning file: " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) {
    error = path + ": cannot read the tuning file";
    return false;
  }
  return parseTuning(ss.str(), path, tuning, error);
}

std::string formatTuning(const std::map<std::string, KernelTuning> &tuning,
                         const std::string &header,
                         const std::map<std::string, std::string> &notes) {
  std::ostringstream os;
  std::istringstream lines(header);
  std::string line;
  while (std::getline(lines, line))
    os << "# " << line << "\n";
  for (const auto &entry : tuning) {
    const KernelTuning &t = entry.second;
    os << entry.first;
    if (t.panel > 0)
      os << " panel=" << t.panel;
    if (t.tileRows > 0)
      os << " tile_rows=" << t.tileRows;
    if (t.queryTile > 0)
      os << " query_tile=" << t.queryTile;
    auto note = notes.find(entry.first);
    if (note != notes.end() && !note->second.empty())
      os << "  # " << note->second;
    os << "\n";
  }
  return os.str();
}

bool writeTuningFile(const std::string &path,
                     const std::map<std::string, KernelTuning> &tuning,
                     std::string &error, const std::string &header,
                     const std::map<std::string, std::string> &notes) {
  for (const auto &entry : tuning) {
    const KernelTuning &t = entry.second;
    if (t.panel <= 0 && t.tileRows <= 0 && t.queryTile <= 0) {
      // Such a line would not read back.
      error = path + ": kernel '" + entry.first +
              "' has no parameter to write (all are the defaults)";
      return false;
    }
  }
  return writeFileAtomically(path, formatTuning(tuning, header, notes), error);
}

} // namespace tfc
