# The layer rule refuses what it should (cmake/check_layers.cmake, run by every build on the real
# tree): over tests/layers/violations/, with this build's layer graph, it must report exactly the
# three fixtures that break it (an upward include, another layer's private header, a public header
# including a private dependency) and accept allowed.cpp.
add_test(NAME layer_check_test
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR}/tests/layers/violations
                 -DLAYERS_FILE=${CMAKE_BINARY_DIR}/lmforge_layers.cmake
                 -P ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake)
set_tests_properties(layer_check_test PROPERTIES LABELS core TIMEOUT 60
  PASS_REGULAR_EXPRESSION "upward\\.cpp:3:.*lmforge/train/trainer\\.h.*3 include\\(s\\) break the layer rule")
