# payment-center tests: cmocka unit tests of the pc library (label unit) and
# integration tests against the real binary with a stub gateway inside the
# test, real SQLite files and a real redis-server (label integration).
foreach(t order state core store)
  pd_unit_test(test_pc_${t} SOURCES unit/test_pc_${t}.c LIBS pc TIMEOUT 60)
endforeach()

add_library(pc_teststub STATIC integration/pc_stub.c)
target_link_libraries(pc_teststub PUBLIC pd_testsupport pd)
target_include_directories(pc_teststub PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)

foreach(t intake pay callback recovery crash)
  pd_integration_test(pc_${t}_test SOURCES integration/pc_${t}_test.c
    LIBS pc_teststub PkgConfig::SQLITE3 TIMEOUT 600)
  add_dependencies(pc_${t}_test payment-center)
endforeach()

# The dedup window under write-lock contention and libfaketime x300.
pd_integration_test(pc_dedup_load_test SOURCES integration/pc_dedup_load_test.c
  LIBS pc_teststub PkgConfig::SQLITE3 TIMEOUT 600)
add_dependencies(pc_dedup_load_test payment-center)

# Each zoo bug really removes its protection (only when the zoo is built).
if(PD_ZOO)
  pd_integration_test(pc_zoo_test SOURCES integration/pc_zoo_test.c
    LIBS pc_teststub TIMEOUT 600)
  add_dependencies(pc_zoo_test payment-center-zoo)
endif()
