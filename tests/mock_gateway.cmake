# mock-gateway tests: cmocka unit tests of the gw library (label unit) and
# integration tests that start the real binary with a real receiver on
# loopback inside the test (label integration).
foreach(t faults callback)
  pd_unit_test(test_gw_${t} SOURCES unit/test_gw_${t}.c LIBS gw TIMEOUT 60)
endforeach()

add_library(gw_testsupport STATIC integration/gw_support.c)
target_link_libraries(gw_testsupport PUBLIC pd_testsupport pd)
target_include_directories(gw_testsupport PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)

foreach(t callbacks api badinput restart determinism faketime http)
  pd_integration_test(gw_${t}_test SOURCES integration/gw_${t}_test.c
    LIBS gw_testsupport TIMEOUT 300)
  add_dependencies(gw_${t}_test mock-gateway)
endforeach()
if(PD_SANITIZE)
  target_compile_definitions(gw_faketime_test PRIVATE GW_T_SANITIZE=1)
endif()

# Descriptor exhaustion: a bash + python3 test of the real binary.
add_test(NAME gw_emfile_test COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/gw_emfile_test.sh)
set_tests_properties(gw_emfile_test PROPERTIES LABELS integration TIMEOUT 120
  ENVIRONMENT "PD_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
