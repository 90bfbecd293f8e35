# End-to-end: `lmforge label` in real headless Chromium (Debian /usr/bin/chromium driven by npm
# playwright-core@1.65.1, pinned by tests/e2e/label/package-lock.json and installed with `npm ci`
# into the build tree). A missing chromium, node/npm, python3-torch (the tiny model writer) or
# network for the first install makes the test fail, never skip.
add_test(NAME e2e_label_page
         COMMAND sh -c "mkdir -p '${CMAKE_BINARY_DIR}/e2e-label' && cp '${CMAKE_SOURCE_DIR}/tests/e2e/label/package.json' '${CMAKE_SOURCE_DIR}/tests/e2e/label/package-lock.json' '${CMAKE_BINARY_DIR}/e2e-label/' && npm ci --prefix '${CMAKE_BINARY_DIR}/e2e-label' --no-audit --no-fund --prefer-offline --loglevel=error && node '${CMAKE_SOURCE_DIR}/tests/e2e/label/label_page.cjs' '$<TARGET_FILE:lmforge>' '${CMAKE_BINARY_DIR}/e2e-label'")
set_tests_properties(e2e_label_page PROPERTIES LABELS e2e TIMEOUT 300)
