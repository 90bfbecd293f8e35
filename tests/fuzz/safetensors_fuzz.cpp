// libFuzzer target for the safetensors reader (SafetensorsFile::parse): every input must be either
// accepted or refused with an InputError; a crash, an ASan report, another exception type or a
// hang is a bug. Accepted files have every tensor read (as floats or ints, by dtype) so that the
// accepted offsets are exercised. Built by tests/fuzz/fuzz.cmake with clang -fsanitize=fuzzer.
#include <cstdint>
#include <cstring>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<unsigned char> buf(data, data + size);
  try {
    lmforge::SafetensorsFile f =
        lmforge::SafetensorsFile::parse(buf.data(), buf.size(), "fuzz.safetensors");
    std::vector<float> fl;
    std::vector<int32_t> in;
    for (const std::string& n : f.names()) {
      const size_t k = f.numel(n);
      if (k > (1u << 20)) continue;
      const lmforge::DType t = f.dtype(n);
      try {
        if (t == lmforge::DType::kI32 || t == lmforge::DType::kI64) {
          in.resize(k);
          f.read_i32(n, in.data(), k);
        } else {
          fl.resize(k);
          f.read_f32(n, fl.data(), k);
        }
      } catch (const lmforge::InputError&) {  // a dtype that cannot be read as numbers
      }
      volatile unsigned char sink = 0;
      const auto* raw = static_cast<const unsigned char*>(f.raw(n));
      for (size_t i = 0; i < f.nbytes(n); ++i) sink = sink ^ raw[i];
    }
  } catch (const lmforge::InputError&) {
  }
  return 0;
}
