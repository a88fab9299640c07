/* paydrill -- runs payment-system fault scenarios end to end and checks
 * that no order is lost, none is paid twice and duplicates are rejected. */
#include "sim_cli.h"

int main(int argc, char **argv)
{
    return sim_cli_main(argc, argv);
}
