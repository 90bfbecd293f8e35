// Reading dictd dictionaries (the format of Debian's dict-* packages): NAME.index lists one entry
// per line as "headword TAB offset TAB length", the numbers in dictd's own base64 digits
// (A-Z a-z 0-9 + /, most significant first, no padding); NAME.dict.dz is gzip (dictzip) text and
// the entry is bytes [offset, offset+length) of the uncompressed text. zlib's gzread reads .dz.
// Not here: what an entry means or how it is cleaned (demo/sources.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

// Decodes one dictd base64 number ("B" = 1, "BA" = 64). Returns false on an empty string, a
// character outside the alphabet, or a value that does not fit 63 bits.
bool dictd_base64_decode(std::string_view digits, uint64_t& value);

struct DictdIndexEntry {
  std::string headword;
  uint64_t offset = 0, length = 0;
};

// Parses a whole .index file's text. Every malformed line is an InputError naming `file`, the
// 1-based line and the field ("headword", "offset", "length").
std::vector<DictdIndexEntry> parse_dictd_index(std::string_view text, const std::string& file);

// An opened dictionary: the index and the uncompressed text, held in memory (FreeDict eng-deu,
// the largest used, is about 60 MB).
class DictdFile {
 public:
  // Reads DIR/NAME.index and DIR/NAME.dict.dz (or NAME.dict when not compressed).
  static DictdFile open(const std::filesystem::path& dir, const std::string& name);
  // The same from memory (tests).
  DictdFile(std::vector<DictdIndexEntry> index, std::string text, std::string name);

  const std::vector<DictdIndexEntry>& index() const { return index_; }
  // The text of an entry. InputError when it lies outside the dictionary text.
  std::string_view entry(const DictdIndexEntry& e) const;
  // Each distinct entry once (several headwords may point at one offset: aliases), in text order,
  // without dictd's "00-database-*" metadata entries.
  std::vector<DictdIndexEntry> distinct_entries() const;

 private:
  std::vector<DictdIndexEntry> index_;
  std::string text_, name_;
};

// Reads a gzip file (or a plain file: gzread passes uncompressed data through) whole.
// InputError naming the file when it cannot be opened or is corrupt.
std::string read_gzip_file(const std::filesystem::path& path);

}  // namespace lmforge
