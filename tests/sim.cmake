# paydrill runner tests (the checker's are in sim_check.cmake):
# unit (scenario parser, keyed decisions, time mapping, the business
# receiver over loopback HTTP), integration (the real paydrill,
# payment-center and mock-gateway binaries; signal: SIGTERM and SIGINT leave
# no child running), and one CTest
# test per scenario of scenarios/default under the label "scenarios".
foreach(t scenario plan business map report collect)
  pd_unit_test(test_sim_${t} SOURCES unit/test_sim_${t}.c LIBS sim_runner TIMEOUT 60)
endforeach()
target_link_libraries(test_sim_report PRIVATE pd_testsupport)   # temp folders
if(TARGET rpt)
  # whether the report writers (and so the suite index) are built
  target_compile_definitions(test_sim_report PRIVATE PD_HAVE_RPT=1)
endif()

# Every shipped scenario file, mutated (test_sim_scenario_fuzz.c).
file(GLOB PD_SIM_FUZZ_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/scenarios/*.json
     ${CMAKE_SOURCE_DIR}/scenarios/*/*.json ${CMAKE_SOURCE_DIR}/bench/sim_*.json)
add_executable(test_sim_scenario_fuzz unit/test_sim_scenario_fuzz.c)
target_link_libraries(test_sim_scenario_fuzz PRIVATE sim_runner gw pd_testsupport pd PkgConfig::CMOCKA)
add_test(NAME test_sim_scenario_fuzz COMMAND test_sim_scenario_fuzz ${PD_SIM_FUZZ_FILES})
set_tests_properties(test_sim_scenario_fuzz PROPERTIES LABELS unit TIMEOUT 120)

foreach(t cli determinism signal)
  pd_integration_test(sim_${t}_test SOURCES integration/sim_${t}_test.c TIMEOUT 600)
  add_dependencies(sim_${t}_test paydrill payment-center mock-gateway)
  if(TARGET payment-center-zoo)
    add_dependencies(sim_${t}_test payment-center-zoo)
  endif()
endforeach()

# Each scenario runs alone; PD_SEED (or PAYDRILL_SEED) in the environment
# overrides the files' seeds so CI can vary them.
file(GLOB PD_SIM_SCENARIOS ${CMAKE_SOURCE_DIR}/scenarios/default/*.json)
foreach(f ${PD_SIM_SCENARIOS})
  get_filename_component(n ${f} NAME_WE)
  add_test(NAME scenario_${n}
    COMMAND /bin/sh -c "exec \"$0\" run \"$1\" --out \"$2\" --jobs 1 --quiet \${PD_SEED:+--seed \"\$PD_SEED\"}"
            $<TARGET_FILE:paydrill> ${f} ${CMAKE_BINARY_DIR}/scenario-runs)
  set_tests_properties(scenario_${n} PROPERTIES LABELS scenarios TIMEOUT 600)
endforeach()

# docs/scenario.schema.json against every scenario file shipped (and
# documents paydrill refuses, which the schema must refuse too).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  file(GLOB PD_SIM_SCENARIO_FILES ${CMAKE_SOURCE_DIR}/scenarios/*.json
       ${CMAKE_SOURCE_DIR}/scenarios/*/*.json ${CMAKE_SOURCE_DIR}/bench/sim_*.json)
  add_test(NAME test_scenario_schema
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_scenario_schema.py
            ${CMAKE_SOURCE_DIR}/docs/scenario.schema.json ${PD_SIM_SCENARIO_FILES})
  set_tests_properties(test_scenario_schema PROPERTIES LABELS unit TIMEOUT 60)
endif()
