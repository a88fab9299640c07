# reports/ (rpt): unit tests of the escapers and the writers on fixture run
# folders, and integration tests that load what we write in real consumers:
# xmllint against tests/junit.xsd, an npm JUnit merger, headless Chromium.
pd_unit_test(test_rpt_detail SOURCES unit/test_rpt_detail.c LIBS rpt)
target_include_directories(test_rpt_detail PRIVATE ${CMAKE_SOURCE_DIR}/reports)
pd_unit_test(test_rpt_escape SOURCES unit/test_rpt_escape.c LIBS rpt)
target_include_directories(test_rpt_escape PRIVATE ${CMAKE_SOURCE_DIR}/reports)
pd_unit_test(test_rpt_group SOURCES unit/test_rpt_group.c LIBS rpt)
target_include_directories(test_rpt_group PRIVATE ${CMAKE_SOURCE_DIR}/reports)
pd_unit_test(test_rpt_out_stream SOURCES unit/test_rpt_out_stream.c LIBS rpt pd_testsupport)
target_include_directories(test_rpt_out_stream PRIVATE ${CMAKE_SOURCE_DIR}/reports)
pd_unit_test(test_rpt_split SOURCES unit/test_rpt_split.c LIBS rpt)
target_include_directories(test_rpt_split PRIVATE ${CMAKE_SOURCE_DIR}/reports)
pd_unit_test(test_rpt_strtab SOURCES unit/test_rpt_strtab.c LIBS rpt)
target_include_directories(test_rpt_strtab PRIVATE ${CMAKE_SOURCE_DIR}/reports)
pd_unit_test(test_rpt_writers SOURCES unit/test_rpt_writers.c LIBS rpt pd_testsupport)
target_compile_definitions(test_rpt_writers PRIVATE
  RPT_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/data/reports")

# Writes large synthetic run folders for the size and rendering tests.
add_executable(rpt-gen-run integration/rpt_gen_run.c)
target_link_libraries(rpt-gen-run PRIVATE pd_build_flags)

# rpt_script_test(NAME script TIMEOUT s): a bash integration test. The
# scripts find paydrill-report and rpt-gen-run in PD_BIN_DIR, write under
# RPT_WORK (in the build folder) and keep their artefacts there.
function(rpt_script_test name script timeout)
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/${script})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT ${timeout}
    ENVIRONMENT "PD_BIN_DIR=${CMAKE_BINARY_DIR}/bin;PD_SOURCE_DIR=${CMAKE_SOURCE_DIR};RPT_WORK=${CMAKE_BINARY_DIR}/rpt-work")
endfunction()
rpt_script_test(rpt_junit_xmllint rpt_junit_xmllint.sh 180)
rpt_script_test(rpt_junit_npm rpt_junit_npm.sh 300)
rpt_script_test(rpt_report_chromium rpt_report_chromium.sh 600)
rpt_script_test(rpt_report_size rpt_report_size.sh 120)
if(TARGET payment-center-zoo AND TARGET paydrill)
  rpt_script_test(rpt_real_failure rpt_real_failure.sh 900)
endif()
