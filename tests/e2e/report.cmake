# End-to-end: the report card (`lmforge report`) rendered in real headless Chromium (Debian
# /usr/bin/chromium + npm playwright-core@1.65.1, pinned in tests/e2e/report/package-lock.json and
# installed into the build tree). Checks the page and saves a screenshot as
# ${CMAKE_BINARY_DIR}/tests/e2e/report/report-card.png. Fails, never skips, without node, npm,
# chromium or the registry for the first install.
add_test(NAME e2e_report_chromium
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/report/run.sh $<TARGET_FILE:lmforge>
                 ${CMAKE_BINARY_DIR}/tests/e2e/report)
set_tests_properties(e2e_report_chromium PROPERTIES LABELS e2e TIMEOUT 300)
