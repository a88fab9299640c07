# pc_bench: orders submitted and paid per second through payment-center's
# HTTP API against an in-process stub gateway (see docs/benchmarks.md).
add_executable(pc_bench pc_bench.c)
target_link_libraries(pc_bench PRIVATE pd)
add_dependencies(pc_bench payment-center)

# cost_bench: the CPU of one unit of each kind of work an order is made of
# (HTTP exchange, SQLite write transaction, HMAC, JSON, thread hand-off).
add_executable(cost_bench cost_bench.c)
target_link_libraries(cost_bench PRIVATE pd PkgConfig::SQLITE3)

# store_bench: the CPU an order costs in payment-center's SQLite store alone,
# through pc_store.h (no HTTP, no gateway).
add_executable(store_bench store_bench.c)
target_link_libraries(store_bench PRIVATE pc)
