# The checker's unit tests (sim_check library; docs/checker.md).
set(SIM_CHECK_FIXTURE unit/test_sim_check_fixture.c)
set(SIM_CHECK_SAMPLES ${CMAKE_CURRENT_BINARY_DIR}/check-samples)
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
# test_sim_check saves a passing and a failing report.json; the schema test
# validates both against docs/report.schema.json.
set_tests_properties(test_sim_check PROPERTIES
  ENVIRONMENT "PD_REPORT_SAMPLES=${SIM_CHECK_SAMPLES}"
  FIXTURES_SETUP sim_check_samples)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME test_sim_check_schema
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sim_check_schema.py
            ${CMAKE_SOURCE_DIR}/docs/report.schema.json
            ${SIM_CHECK_SAMPLES}/report-pass.json ${SIM_CHECK_SAMPLES}/report-fail.json)
  set_tests_properties(test_sim_check_schema PROPERTIES
    LABELS unit TIMEOUT 60 FIXTURES_REQUIRED sim_check_samples)
endif()
pd_unit_test(test_sim_journal_merge
  SOURCES unit/test_sim_journal_merge.c
  LIBS sim_check pd_testsupport TIMEOUT 60)
pd_unit_test(test_sim_check_model
  SOURCES unit/test_sim_check_model.c
  LIBS sim_check TIMEOUT 60)
pd_unit_test(test_sim_check_fuzz
  SOURCES unit/test_sim_check_fuzz.c ${SIM_CHECK_FIXTURE}
  LIBS sim_check pd_testsupport TIMEOUT 600)
target_compile_definitions(test_sim_check_fuzz PRIVATE
  FX_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data/check")
