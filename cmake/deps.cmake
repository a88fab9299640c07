# All dependencies come from Debian 12 packages; nothing is downloaded.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(CURL    REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(CJSON   REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(CMOCKA  REQUIRED IMPORTED_TARGET cmocka)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(CRYPTO  REQUIRED IMPORTED_TARGET libcrypto)

# Debian's civetweb CMake package fails on a missing executable and ships no
# .pc file, so we find the header and the library by hand.
find_path(CIVETWEB_INCLUDE_DIR civetweb.h REQUIRED)
find_library(CIVETWEB_LIBRARY civetweb REQUIRED)
add_library(civetweb::civetweb UNKNOWN IMPORTED)
set_target_properties(civetweb::civetweb PROPERTIES
  IMPORTED_LOCATION "${CIVETWEB_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CIVETWEB_INCLUDE_DIR}")
