/* cmd_bench.c: `strata bench codec|ingest|query`. */
#include <stdbool.h>
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
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fprintf(help ? stdout : stderr,
            "usage: strata bench codec|ingest|query|compact [options] [--json]\n"
            "  codec    bytes/sample and encode/decode speed of every codec on the generated data sets\n"
            "  ingest   samples/s through the C API (1 and 2 threads), head memory, reopen time\n"
            "  query    read throughput: one series, and a matcher selecting about 10%% of the series\n"
            "  compact  write amplification, bytes/sample after full compaction, compaction speed\n"
            "strata bench KIND --help for the options of one.\n");
    return help ? CLI_OK : CLI_USAGE;
}
