# End-to-end: llama.cpp (npm node-llama-cpp@3.21.1, prebuilt CPU) runs our exported tiny GPT-2,
# Llama-GQA and Qwen3 GGUF files, tokenizes to our ids and reproduces our greedy continuation; the npm
# @huggingface/gguf@0.4.6 parser reads the same metadata and tensor infos as our reader
# (tests/e2e/llamacpp_e2e.sh). Fails, never skips, without node/npm or the registry.
add_test(NAME e2e_llamacpp_gguf
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/llamacpp_e2e.sh $<TARGET_FILE:export_gguf_test>
                 ${CMAKE_BINARY_DIR}/tests/e2e/llamacpp)
set_tests_properties(e2e_llamacpp_gguf PROPERTIES LABELS e2e TIMEOUT 900)
