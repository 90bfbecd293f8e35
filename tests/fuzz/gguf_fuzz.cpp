// libFuzzer target for the GGUF reader (GgufFile::parse): every input must be either accepted or
// refused with an InputError; anything else (a crash, an out-of-bounds read caught by ASan, another
// exception type, a hang) is a bug. Accepted files are read completely (every value printed,
// every tensor dequantized) so that the offsets the parser accepted are exercised too.
// Not a unit test: tests/fuzz/fuzz.cmake builds it with clang -fsanitize=fuzzer,address.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy: reading one byte past it is an ASan report.
  std::vector<unsigned char> buf(data, data + size);
  try {
    lmforge::GgufFile g = lmforge::GgufFile::parse(buf.data(), buf.size(), "fuzz.gguf");
    size_t chars = 0;
    for (const auto& [k, v] : g.metadata()) chars += k.size() + v.to_string().size();
    std::vector<float> out;
    for (const auto& t : g.tensors()) {
      if (t.numel() > (1 << 20)) continue;  // the bytes are in range (checked); skip huge ones
      out.resize(size_t(t.numel()));
      g.read_f32(t.name, out.data(), out.size());
    }
    if (chars == size_t(-1)) std::abort();  // keeps the loop from being optimized away
  } catch (const lmforge::InputError&) {
  }
  return 0;
}
