# pc_bench: orders submitted and paid per second through payment-center's
# HTTP API against an in-process stub gateway (see docs/benchmarks.md).
add_executable(pc_bench pc_bench.c)
target_link_libraries(pc_bench PRIVATE pd)
add_dependencies(pc_bench payment-center)
