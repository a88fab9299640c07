# Turns a text asset into a C byte array, so report.html's CSS and script
# live in real .css/.js files yet ship inside the library (no file lookups
# at run time, no string-literal length limits).
#   cmake -DIN=report.js -DOUT=asset_js.c -DNAME=rpt_asset_js -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}.tmp"
  "/* generated from ${IN} by reports/embed.cmake; do not edit */\n"
  "#include \"rpt_assets.h\"\n"
  "const unsigned char ${NAME}[] = {${bytes}0x00};\n"
  "const size_t ${NAME}_len = ${len};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
