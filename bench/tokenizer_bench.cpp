// Tokenizer benchmark (not a test). Two modes, each printing one machine-readable line:
//   tokenizer_bench encode TOKENIZER_DIR TEXT_FILE [THREADS]
//       single-thread encode of the whole file with encode(); with THREADS > 1 also encodes
//       1 MB chunks on THREADS threads (the way `prepare` scales). Prints MB/s and tokens.
//   tokenizer_bench train TEXT_FILE VOCAB_SIZE [THREADS]
//       trains on the file and prints seconds and peak RSS (MB) of this process.
// bench/tokenizer_bench.sh runs these next to tiktoken (npm) and spm_train and prints ratios.
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "lmforge/core/file_util.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/data/tokenizer_train.h"

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// CPU time of the calling thread: on a shared, oversubscribed machine it is far steadier than
// wall time for a single-thread measurement.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: tokenizer_bench encode TOKENIZER_DIR TEXT_FILE [THREADS]\n"
                 "       tokenizer_bench train TEXT_FILE VOCAB_SIZE [THREADS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "encode") {
      lmforge::Tokenizer tok = lmforge::Tokenizer::load(argv[2]);
      const std::string text = lmforge::read_file(argv[3]);
      const int threads = argc > 4 ? std::atoi(argv[4]) : 1;
      const double mb = text.size() / 1e6;
      double t0 = now_s(), c0 = thread_cpu_s();
      std::vector<int32_t> ids = tok.encode(text);
      double t1 = now_s(), c1 = thread_cpu_s();
      std::printf(
          "encode_1thread MB=%.1f tokens=%zu seconds=%.3f MB_per_s=%.2f cpu_seconds=%.3f "
          "MB_per_cpu_s=%.2f\n",
          mb, ids.size(), t1 - t0, mb / (t1 - t0), c1 - c0, mb / (c1 - c0));
      if (threads > 1) {
        // Chunks cut at newlines, as prepare cuts at document boundaries.
        std::vector<std::string_view> chunks;
        size_t pos = 0;
        while (pos < text.size()) {
          size_t end = std::min(text.size(), pos + (1u << 20));
          size_t nl = text.find('\n', end);
          end = nl == std::string::npos ? text.size() : nl + 1;
          chunks.emplace_back(text.data() + pos, end - pos);
          pos = end;
        }
        std::vector<size_t> counts(chunks.size());
        t0 = now_s();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (size_t i = 0; i < chunks.size(); ++i) counts[i] = tok.encode(chunks[i]).size();
        t1 = now_s();
        size_t total = 0;
        for (size_t c : counts) total += c;
        std::printf("encode_%dthreads MB=%.1f tokens=%zu seconds=%.3f MB_per_s=%.2f\n", threads, mb,
                    total, t1 - t0, mb / (t1 - t0));
      }
    } else if (mode == "train") {
      lmforge::TokenizerTrainOptions o;
      o.vocab_size = std::atoi(argv[3]);
      o.threads = argc > 4 ? std::atoi(argv[4]) : 0;
      o.progress = false;
      double t0 = now_s();
      lmforge::Tokenizer tok = lmforge::train_tokenizer({argv[2]}, o);
      double t1 = now_s();
      std::printf("train vocab=%d seconds=%.2f peak_rss_MB=%.1f\n", tok.vocab_size(), t1 - t0,
                  peak_rss_mb());
    } else {
      std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
