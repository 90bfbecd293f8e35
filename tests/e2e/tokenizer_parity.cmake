# GPT-2 parity with tiktoken and HF tokenizers.js loading our tokenizer.json (real npm packages,
# pinned in tests/e2e/tokenizer_parity/package-lock.json, installed into the build tree). Fails,
# never skips, when node/npm or the registry is unavailable.
add_test(NAME tokenizer_gpt2_parity
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/tokenizer_parity.sh $<TARGET_FILE:lmforge>
                 ${CMAKE_BINARY_DIR}/tests/e2e/tokenizer_parity)
set_tests_properties(tokenizer_gpt2_parity PROPERTIES LABELS e2e TIMEOUT 600)
