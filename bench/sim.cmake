# paydrill end to end benchmark: `cmake --build BUILD --target bench-sim`
# (or bench/sim_bench.sh BUILD). Figures in docs/benchmarks.md.
add_custom_target(bench-sim
  COMMAND ${CMAKE_SOURCE_DIR}/bench/sim_bench.sh ${CMAKE_BINARY_DIR}
  DEPENDS paydrill payment-center mock-gateway
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
  USES_TERMINAL)

# lib_rss: the resident size a process linked like paydrill starts with,
# and what the first use of OpenSSL 3 adds (docs/benchmarks.md, "Stop 15").
add_executable(lib_rss lib_rss.c)
target_link_libraries(lib_rss PRIVATE pd)
