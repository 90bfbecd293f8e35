# Two "machines" (network namespaces + veth, Open MPI over TCP): tests/dist/two_machines_test.sh.
# Exit 77 = skipped with the printed reason (no namespaces, no mpirun, not root).
add_test(NAME mpi_two_machines_test
         COMMAND ${CMAKE_SOURCE_DIR}/tests/dist/two_machines_test.sh $<TARGET_FILE:lmforge>)
set_tests_properties(mpi_two_machines_test PROPERTIES LABELS dist SKIP_RETURN_CODE 77 TIMEOUT 300)
