/* rpt_assets.h -- the CSS and script of report.html and index.html,
 * compiled in from reports/assets/ by embed.cmake. Not NUL-counted: use
 * the _len. The script must never contain "</script" (it is ours). */
#ifndef RPT_ASSETS_H
#define RPT_ASSETS_H

#include <stddef.h>

extern const unsigned char rpt_asset_css[];
extern const size_t rpt_asset_css_len;
extern const unsigned char rpt_asset_js[];
extern const size_t rpt_asset_js_len;

#endif
