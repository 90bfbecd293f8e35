# option_limits_check: builds the command tree from every src/cli/*.cpp except main.cpp (each
# command registers itself) and checks that every numeric option of every command has a range
# (src/cli/option_limits.cpp), and that the range check refuses what CLI11 alone lets through.
file(GLOB _limits_cli CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/cli/*.cpp)
list(REMOVE_ITEM _limits_cli ${CMAKE_SOURCE_DIR}/src/cli/main.cpp)
add_executable(option_limits_check ${CMAKE_SOURCE_DIR}/tests/cli/option_limits_check.cpp ${_limits_cli})
target_include_directories(option_limits_check PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(option_limits_check PRIVATE lmforge_model CLI11::CLI11 yaml-cpp GTest::gtest_main)
add_test(NAME option_limits_check COMMAND option_limits_check)
set_tests_properties(option_limits_check PROPERTIES LABELS cli)
