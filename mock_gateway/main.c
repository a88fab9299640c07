/* mock-gateway: see gw_main.c and docs/mock-gateway.md. */
#include "gw_main.h"

int main(int argc, char **argv)
{
    return gw_main(argc, argv);
}
