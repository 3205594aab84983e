#!/usr/bin/env bash
# make_format1.sh: how tests/golden/format1/ was written, once, by strata
# 0.1.0 (storage format 1). It is kept to show what the directory holds,
# not to be run again: the point of a golden directory is that it stays
# as an old version wrote it, and every later build must still read it
# (tests/scripts/golden_format1.sh).
#
# The directory holds every kind of file format 1 has: table files at
# level 0 and after a full compaction, over three one-hour partitions; a
# manifest with a delete's tombstone; the series index log; and a WAL
# segment with samples, series records and a delete that were never
# flushed (so opening it replays them).
#   usage: tests/golden/make_format1.sh BUILD_DIR OUT_DIR
set -euo pipefail
BUILD=$1
OUT=$2
S="$BUILD/strata"
rm -rf "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/strata-bench" gen node-like --hosts 1 --hours 3 --seed 7 |
    grep -E '^(node_load1|node_memory_MemAvailable_bytes|node_network_receive_bytes_total|node_cpu_seconds_total,[^ ]*cpu=0,mode=(idle|user))[, ]' \
        >"$tmp/all.lp"
# 12:00-14:00 written and fully compacted; 14:00-14:30 flushed to level 0;
# 14:30-15:00 left in the WAL
awk '$NF < 1704117600' "$tmp/all.lp" >"$tmp/a.lp"
awk '$NF >= 1704117600 && $NF < 1704119400' "$tmp/all.lp" >"$tmp/b.lp"
awk '$NF >= 1704119400 && $NF < 1704120300' "$tmp/all.lp" >"$tmp/c.lp"
awk '$NF >= 1704120300' "$tmp/all.lp" >"$tmp/d.lp"
opts=(--partition 1h --compaction-threads 0)
"$S" write -d "$OUT" "${opts[@]}" --precision s "$tmp/a.lp"
"$S" compact -d "$OUT" "${opts[@]}" --full
"$S" write -d "$OUT" "${opts[@]}" --precision s "$tmp/b.lp"
"$S" compact -d "$OUT" "${opts[@]}"
"$S" delete -d "$OUT" "${opts[@]}" --match 'node_load1' --start 2024-01-01T12:10:00Z --end 2024-01-01T12:20:00Z
# samples, a new series and a delete left in the WAL only
"$S" write -d "$OUT" "${opts[@]}" --precision s "$tmp/c.lp"
printf 'golden_only,kind=wal value=-0.5 1704119500\ngolden_only,kind=wal value=1e300 1704119515\n' |
    "$S" write -d "$OUT" "${opts[@]}" --precision s -
"$S" delete -d "$OUT" "${opts[@]}" --match 'node_memory_MemAvailable_bytes' --start 2024-01-01T14:35:00Z --end 2024-01-01T14:36:00Z
"$S" write -d "$OUT" "${opts[@]}" --precision s "$tmp/d.lp"
rm -f "$OUT/LOCK"
"$S" verify -d "$OUT"
"$S" export -d "$OUT" --partition 1h >"$(dirname "$OUT")/format1.expected.jsonl"
rm -f "$OUT/LOCK"
