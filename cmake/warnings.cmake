# One interface target carries the warning set, the POSIX level and the
# sanitizers; every target of ours links it.
add_library(pd_build_flags INTERFACE)
target_compile_definitions(pd_build_flags INTERFACE _POSIX_C_SOURCE=200809L)
target_compile_options(pd_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
  -Wmissing-prototypes -Wvla -Wno-missing-field-initializers)
if(PD_WERROR)
  target_compile_options(pd_build_flags INTERFACE -Werror)
endif()
if(PD_SANITIZE)
  target_compile_options(pd_build_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(pd_build_flags INTERFACE -fsanitize=address,undefined)
endif()
