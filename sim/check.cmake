# sim_check: the checker (invariants over G, P and B), report.json and the
# merged journal. A library so the paydrill executable and the unit tests
# link the same code. Owned by the checker; see docs/checker.md.
add_library(sim_check STATIC
  ${CMAKE_CURRENT_LIST_DIR}/check.c
  ${CMAKE_CURRENT_LIST_DIR}/check_clock.c
  ${CMAKE_CURRENT_LIST_DIR}/check_model.c
  ${CMAKE_CURRENT_LIST_DIR}/check_eval.c
  ${CMAKE_CURRENT_LIST_DIR}/check_evidence.c
  ${CMAKE_CURRENT_LIST_DIR}/check_stream.c
  ${CMAKE_CURRENT_LIST_DIR}/report_json.c
  ${CMAKE_CURRENT_LIST_DIR}/journal_merge.c)
target_include_directories(sim_check PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(sim_check PUBLIC pd sim_json PkgConfig::CJSON)
