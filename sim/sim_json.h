/* sim_json.h -- writing JSON text straight to a stream, record by record,
 * so files of many orders are never held whole in memory. */
#ifndef SIM_JSON_H
#define SIM_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal (quoted, escaped). */
void sim_json_str(FILE *f, const char *s);

/* Writes null for NULL or "", else the string literal. */
void sim_json_str_or_null(FILE *f, const char *s);

#endif
