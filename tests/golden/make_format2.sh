#!/usr/bin/env bash
# make_format2.sh: how tests/golden/format2/ was written, once, by strata
# 0.1.0 at storage format 2 (downsampling). Kept to show what the directory
# holds, not to be run again: the point of a golden directory is that it
# stays as that version wrote it, and every later build must still read
# it (tests/scripts/golden_format2.sh).
#
# Beside what format 1 has (tests/golden/make_format1.sh), it holds what
# format 2 added: version-2 table footers (rules_ms) and aggregate blocks.
# Three hours of four node-like series from 2024 (so always older than the
# rules' ages) over one-hour partitions: node_load1 and the network
# counter downsampled to 5-minute rows, the other two kept raw, then a late
# write into a downsampled partition flushed to level 0 (raw samples that
# reads fold into the rows) and a WAL tail.
#   usage: tests/golden/make_format2.sh BUILD_DIR OUT_DIR
set -euo pipefail
BUILD=$1
OUT=$2
S="$BUILD/strata"
rm -rf "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/strata-bench" gen node-like --hosts 1 --hours 3 --seed 7 |
    grep -E '^(node_load1|node_memory_MemAvailable_bytes|node_network_receive_bytes_total|node_cpu_seconds_total,[^ ]*cpu=0,mode=idle)[, ]' \
        >"$tmp/all.lp"
awk '$NF < 1704119400' "$tmp/all.lp" >"$tmp/a.lp"
awk '$NF >= 1704119400' "$tmp/all.lp" >"$tmp/d.lp"
opts=(--partition 1h --compaction-threads 0 --downsampling '{__name__=~"node_load1|node_network_receive_bytes_total"}:30d:5m')
"$S" write -d "$OUT" "${opts[@]}" --precision s "$tmp/a.lp"
"$S" compact -d "$OUT" "${opts[@]}"
# a late write into a downsampled partition, flushed to level 0
printf 'node_load1,host=late value=3.25 1704114007\nnode_load1,instance=host-00:9100,job=node value=9.5 1704114008\n' >"$tmp/late.lp"
"$S" write -d "$OUT" --partition 1h --compaction-threads 0 --precision s "$tmp/late.lp"
"$S" compact -d "$OUT" --partition 1h --compaction-threads 0 # flushes; no rule given, so no rules job
# samples left in the WAL only
"$S" write -d "$OUT" "${opts[@]}" --precision s "$tmp/d.lp"
rm -f "$OUT/LOCK"
"$S" verify -d "$OUT"
"$S" export -d "$OUT" --partition 1h >"$(dirname "$OUT")/format2.expected.jsonl"
for q in 'count_over_time(node_load1[1h])' 'sum_over_time(node_load1[1h])' 'max_over_time(node_load1[1h])' \
         'increase(node_network_receive_bytes_total[1h])'; do
    "$S" query -d "$OUT" --partition 1h "$q" --start 2024-01-01T13:00:00Z --end 2024-01-01T15:00:00Z --step 1h \
        --format json
done >"$(dirname "$OUT")/format2.expected.query.json"
rm -f "$OUT/LOCK"
