/* cmd_bench.c: `strata bench codec|ingest|query`. */
#include <string.h>

#include "cli.h"

int bench_codec_main(int argc, char **argv);
int bench_ingest_main(int argc, char **argv);
int bench_query_main(int argc, char **argv);
int bench_compact_main(int argc, char **argv);

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "codec"))
        return bench_codec_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "ingest"))
        return bench_ingest_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "compact"))
        return bench_compact_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "query"))
        return bench_query_main(argc - 1, argv + 1);
    fprintf(stderr, "usage: strata bench codec|ingest|query|compact [options] [--json]\n");
    return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? CLI_OK : CLI_USAGE;
}
