# mock-gateway benchmark: bench/gw_bench.sh (wrk + WireMock + nginx); nothing
# to build here beyond the mock-gateway binary itself.
