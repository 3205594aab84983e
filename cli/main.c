/* main.c: the strata command: dispatches sub-commands. */
#include <stdio.h>
#include <string.h>

#include "strata.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: strata COMMAND [options]\n"
               "commands: serve write import export query delete inspect verify compact bench\n"
               "strata COMMAND --help for the options of one; strata --version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("strata %s\n", strata_version());
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "strata: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
