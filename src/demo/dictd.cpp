// dictd index parsing, dictd base64 numbers, and gzip reading via zlib (see demo/dictd.h).
#include "lmforge/demo/dictd.h"

#include <zlib.h>

#include <algorithm>

#include "lmforge/core/error.h"

namespace lmforge {

bool dictd_base64_decode(std::string_view digits, uint64_t& value) {
  if (digits.empty()) return false;
  uint64_t v = 0;
  for (char c : digits) {
    int d;
    if (c >= 'A' && c <= 'Z')
      d = c - 'A';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      d = c - '0' + 52;
    else if (c == '+')
      d = 62;
    else if (c == '/')
      d = 63;
    else
      return false;
    if (v > (UINT64_MAX >> 7)) return false;  // keeps the result below 2^63
    v = v * 64 + uint64_t(d);
  }
  value = v;
  return true;
}

std::vector<DictdIndexEntry> parse_dictd_index(std::string_view text, const std::string& file) {
  std::vector<DictdIndexEntry> out;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t t1 = line.find('\t');
    const size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos)
      throw InputError(file, line_no, "headword", "expected 'headword TAB offset TAB length'",
                       "is this a dictd .index file?");
    DictdIndexEntry e;
    e.headword = std::string(line.substr(0, t1));
    std::string_view off = line.substr(t1 + 1, t2 - t1 - 1);
    std::string_view len = line.substr(t2 + 1);
    // Some indexes carry a 4th column (the original headword); only the first three matter.
    if (size_t t3 = len.find('\t'); t3 != std::string_view::npos) len = len.substr(0, t3);
    // An empty headword occurs in real indexes (FreeDict lists entries under ""); the entry
    // itself is still valid, so it is kept.
    if (!dictd_base64_decode(off, e.offset))
      throw InputError(file, line_no, "offset",
                       "not a dictd base64 number: '" + std::string(off) + "'",
                       "digits are A-Z a-z 0-9 + /");
    if (!dictd_base64_decode(len, e.length))
      throw InputError(file, line_no, "length",
                       "not a dictd base64 number: '" + std::string(len) + "'",
                       "digits are A-Z a-z 0-9 + /");
    out.push_back(std::move(e));
  }
  return out;
}

std::string read_gzip_file(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw InputError(path.string(), 0, "", "cannot open");
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw InputError(path.string(), 0, "", "corrupt gzip data: " + msg,
                       "fetch it again with scripts/fetch-corpus.sh");
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  gzclose(f);
  return out;
}

DictdFile::DictdFile(std::vector<DictdIndexEntry> index, std::string text, std::string name)
    : index_(std::move(index)), text_(std::move(text)), name_(std::move(name)) {}

DictdFile DictdFile::open(const std::filesystem::path& dir, const std::string& name) {
  const auto index_path = dir / (name + ".index");
  auto text_path = dir / (name + ".dict.dz");
  if (!std::filesystem::exists(text_path) && std::filesystem::exists(dir / (name + ".dict")))
    text_path = dir / (name + ".dict");
  if (!std::filesystem::exists(index_path) || !std::filesystem::exists(text_path))
    throw InputError(index_path.string(), 0, "", "dictionary '" + name + "' is missing",
                     "run scripts/fetch-corpus.sh CORPUS_DIR first");
  std::string idx = read_gzip_file(index_path);
  return DictdFile(parse_dictd_index(idx, index_path.string()), read_gzip_file(text_path),
                   text_path.string());
}

std::string_view DictdFile::entry(const DictdIndexEntry& e) const {
  if (e.offset > text_.size() || e.length > text_.size() - e.offset)
    throw InputError(name_, 0, "offset",
                     "entry '" + e.headword + "' lies past the end of the text (" +
                         std::to_string(e.offset) + "+" + std::to_string(e.length) + " > " +
                         std::to_string(text_.size()) + ")",
                     "the .index does not belong to this .dict.dz");
  return std::string_view(text_).substr(e.offset, e.length);
}

std::vector<DictdIndexEntry> DictdFile::distinct_entries() const {
  std::vector<DictdIndexEntry> out;
  for (const auto& e : index_)
    if (e.headword.rfind("00-database-", 0) != 0 && e.headword.rfind("00database", 0) != 0)
      out.push_back(e);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.offset < b.offset || (a.offset == b.offset && a.length < b.length);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) {
                          return a.offset == b.offset && a.length == b.length;
                        }),
            out.end());
  return out;
}

}  // namespace lmforge
