/* payment-center -- the reference payment center paydrill tests.
 * Everything lives in the pc library; this only parses settings. */
#include <stdio.h>

#include "pc_config.h"
#include "pc_server.h"

int main(int argc, char **argv)
{
    static struct pc_config cfg;
    int rc = pc_config_parse(argc, argv, &cfg, stdout, stderr);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    return pc_server_run(&cfg);
}
