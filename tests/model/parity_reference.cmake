# Self-tests of the PyTorch parity reference (tests/reference/selftest.py): the reference must be
# right before it judges lmforge. Needs /usr/bin/python3 with torch (CI installs python3-torch);
# a missing torch makes the test fail, never skip.
add_test(NAME parity_reference_selftest
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/reference/selftest.py)
set_tests_properties(parity_reference_selftest PROPERTIES LABELS model TIMEOUT 300)
