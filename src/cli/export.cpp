// `lmforge export`: write a model as GGUF (llama.cpp, Ollama) or as a clean Hugging Face
// directory (LoRA adapters merged). Options and printing only; the work is run_export()
// (model/export.h).
#include "lmforge/model/export.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "lmforge/core/output_guard.h"

namespace lmforge::cli {
namespace {

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "export",
                              "Write a model as GGUF for llama.cpp/Ollama or as a clean Hugging "
                              "Face directory (merging a LoRA adapter if the directory has one)");
  auto o = std::make_shared<ExportOptions>();
  cmd->add_option("--model", o->model,
                  "model directory (config.json, model.safetensors, tokenizer.json), a LoRA "
                  "adapter directory (adapter_config.json + adapter_model.safetensors), or a run "
                  "directory holding final/")
      ->required();
  cmd->add_option("--format", o->format,
                  "gguf: one GGUF v3 file (llama.cpp's gpt2/llama architectures); hf: a Hugging "
                  "Face model directory")
      ->check(CLI::IsMember({"gguf", "hf"}));
  cmd->add_option("--output", o->output, "the .gguf file, or the directory to (re)create for hf")
      ->required();
  cmd->add_option("--dtype", o->dtype,
                  "tensor type of the matrices: auto (gguf: f16; hf: the source checkpoint's), "
                  "f32, f16, bf16, or q8_0 (gguf only; norms and biases stay f32)")
      ->check(CLI::IsMember({"auto", "f32", "f16", "bf16", "q8_0"}));
  cmd->add_option("--name", o->name, "general.name in the GGUF file (default: the directory name)");
  cmd->callback([cmd, o] {
    print_resolved_config(*cmd);
    OutputSpec spec;
    spec.path = o->output;
    if (o->format == "gguf") {
      spec.kind = OutputSpec::Kind::kFile;
      spec.same_kind = starts_with_bytes("GGUF");
      spec.what = "a GGUF file";
    } else {  // hf: the directory is replaced as a whole
      spec.own = {"config.json",
                  "model.safetensors",
                  "tokenizer.json",
                  "tokenizer_config.json",
                  "special_tokens_map.json",
                  "vocab.json",
                  "merges.txt",
                  "encoder.json",
                  "vocab.bpe",
                  "generation_config.json"};
      spec.what = "an earlier `lmforge export --format hf` output (it would be replaced whole)";
    }
    o->output = check_output(spec, {{"--model", o->model}});
    ExportReport r = run_export(*o);
    std::fprintf(stderr, "read %s%s\n", r.source.c_str(),
                 r.lora_merged ? " (LoRA adapter merged)" : "");
    std::printf("wrote %s: %s, %zu tensors, %.1f MB\n", o->output.c_str(), r.dtype.c_str(),
                r.tensors, double(r.bytes) / 1e6);
  });
}

const bool registered = register_command(85, setup);

}  // namespace
}  // namespace lmforge::cli
