# The checker's unit tests (sim_check library; docs/checker.md).
set(SIM_CHECK_FIXTURE unit/test_sim_check_fixture.c)
pd_unit_test(test_sim_check
  SOURCES unit/test_sim_check.c ${SIM_CHECK_FIXTURE}
  LIBS sim_check TIMEOUT 60)
pd_unit_test(test_sim_check_files
  SOURCES unit/test_sim_check_files.c ${SIM_CHECK_FIXTURE}
  LIBS sim_check pd_testsupport TIMEOUT 300)
foreach(t test_sim_check test_sim_check_files)
  target_compile_definitions(${t} PRIVATE
    FX_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data/check")
endforeach()
