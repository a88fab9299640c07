#include "sim_json.h"

void sim_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void sim_json_str_or_null(FILE *f, const char *s)
{
    if (s == NULL || *s == '\0')
        fputs("null", f);
    else
        sim_json_str(f, s);
}
