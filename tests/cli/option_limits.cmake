# option_limits_check: builds the command tree from the objects of every src/cli/*.cpp except
# main.cpp (lmforge_cli: each command registers itself) and checks that every numeric option of
# every command has a range (src/cli/option_limits.cpp), and that the range check refuses what
# CLI11 alone lets through.
add_executable(option_limits_check ${CMAKE_SOURCE_DIR}/tests/cli/option_limits_check.cpp)
target_link_libraries(option_limits_check PRIVATE lmforge_cli lmforge_test_support GTest::gtest_main)
add_test(NAME option_limits_check COMMAND option_limits_check)
set_tests_properties(option_limits_check PROPERTIES LABELS cli)
