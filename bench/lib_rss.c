/* lib_rss -- what a process linked like paydrill (libcurl, libcrypto) has
 * resident before it does anything, and what the first use of OpenSSL 3
 * adds, one way at a time (docs/benchmarks.md, "Stop 15").
 *
 *   lib_rss curl   curl_global_init (libcurl initialises OpenSSL)
 *   lib_rss hmac   one HMAC-SHA256 through EVP_MAC, as pd_sign does
 *   lib_rss both   the two, in that order
 *
 * Prints VmRSS (KiB) before and after each step. */
#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_util.h"

static int one_hmac(void)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t n = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, (const unsigned char *)"key", 3, params) &&
             EVP_MAC_update(ctx, (const unsigned char *)"data", 4) &&
             EVP_MAC_final(ctx, out, &n, sizeof out);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *what = argc == 2 ? argv[1] : "";
    bool curl = strcmp(what, "curl") == 0 || strcmp(what, "both") == 0;
    bool hmac = strcmp(what, "hmac") == 0 || strcmp(what, "both") == 0;
    if (!curl && !hmac) {
        fprintf(stderr, "usage: lib_rss curl|hmac|both\n"
                        "Prints VmRSS (KiB) before and after libcurl's global init and/or one\n"
                        "HMAC-SHA256 through OpenSSL 3's EVP_MAC.\n");
        return 2;
    }
    printf("start vm_rss_kb=%ld\n", pd_proc_status_kb("VmRSS"));
    if (curl) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return 1;
        printf("after curl_global_init vm_rss_kb=%ld\n", pd_proc_status_kb("VmRSS"));
    }
    if (hmac) {
        if (one_hmac() != 0)
            return 1;
        printf("after one HMAC vm_rss_kb=%ld\n", pd_proc_status_kb("VmRSS"));
    }
    return 0;
}
