# End-to-end: the official OpenAI Node client (npm openai@6.49.0) against `lmforge serve`
# (tests/e2e/openai_client.cjs). npm installs the client into the build tree; a missing node/npm,
# python3-torch (the tiny model writer) or network for the first install makes the test fail,
# never skip.
add_test(NAME e2e_openai_client
         COMMAND sh -c "npm install --prefix '${CMAKE_BINARY_DIR}/e2e-node' --no-audit --no-fund --prefer-offline --loglevel=error openai@6.49.0 && node '${CMAKE_SOURCE_DIR}/tests/e2e/openai_client.cjs' '$<TARGET_FILE:lmforge>' '${CMAKE_BINARY_DIR}/e2e-node'")
# fp32: the tiny random model's sampled text (and so when it stops) depends on the precision; the
# cancellation check needs the 1000-token stream to still be running when the client drops it.
set_tests_properties(e2e_openai_client PROPERTIES LABELS e2e TIMEOUT 300
                     ENVIRONMENT LMFORGE_PRECISION=fp32)
