# The AVX-512 kernel objects define no weak symbol that baseline code could end up calling
# (scripts/check_isa_objects.sh explains why).
add_test(NAME isa_objects COMMAND ${CMAKE_SOURCE_DIR}/scripts/check_isa_objects.sh
         $<TARGET_FILE:lmforge_backend>)
set_tests_properties(isa_objects PROPERTIES LABELS backend)
