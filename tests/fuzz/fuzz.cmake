# libFuzzer runs of the GGUF and safetensors parsers, the chat-template engine and the
# config.json/tokenizer.json loaders (tests/fuzz/run_fuzz.sh builds each target
# with clang -fsanitize=fuzzer,address,undefined, replays tests/fuzz/regressions/<name>/, then
# fuzzes for LMFORGE_FUZZ_SECONDS from tests/fuzz/seeds/<name>/). Label: fuzz.
set(LMFORGE_FUZZ_SECONDS 20 CACHE STRING "Seconds each parser fuzz test runs")
foreach(name gguf safetensors jinja model_files)
  add_test(NAME fuzz_${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/fuzz/run_fuzz.sh ${name} ${CMAKE_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR}/fuzz ${LMFORGE_FUZZ_SECONDS})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz TIMEOUT 400)
endforeach()
