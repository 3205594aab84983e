#!/usr/bin/env bash
# golden_format2.sh: a data directory written at storage format 2
# (tests/golden/format2/, made once by tests/golden/make_format2.sh) still
# opens and reads back exactly: version-2 tables with aggregate blocks
# (two series downsampled to 5-minute rows, two raw), a late raw sample at
# level 0 inside a downsampled interval, and a WAL tail. Its export (the
# rows' last samples) and the aggregate queries (count, sum, max over 1 h,
# increase) must be what format 2 gave; a rules job (the compaction with
# the same rule) then folds the late sample into its row and every query
# answer stays the same. Env (set by CTest): STRATA_BIN, STRATA_SRC.
set -euo pipefail
SRC=${STRATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${STRATA_BIN:-$SRC/build/strata}
GOLD="$SRC/tests/golden/format2"
WANT="$SRC/tests/golden/format2.expected.jsonl"
WANTQ="$SRC/tests/golden/format2.expected.query.json"
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a "$GOLD" "$tmp/db" # opening writes (LOCK, DIRTY, WAL repair): never the committed copy
[ "$(cat "$tmp/db/VERSION")" = 2 ] || fail "the golden directory is not format 2"
queries() {
    for q in 'count_over_time(node_load1[1h])' 'sum_over_time(node_load1[1h])' 'max_over_time(node_load1[1h])' \
             'increase(node_network_receive_bytes_total[1h])'; do
        "$BIN" query -d "$tmp/db" --partition 1h "$q" --start 2024-01-01T13:00:00Z --end 2024-01-01T15:00:00Z \
            --step 1h --format json
    done
}

"$BIN" verify -d "$tmp/db" >"$tmp/verify.out" 2>&1 || { cat "$tmp/verify.out" >&2; fail "verify found damage"; }
"$BIN" export -d "$tmp/db" --partition 1h >"$tmp/got.jsonl" || fail "export failed"
cmp -s "$tmp/got.jsonl" "$WANT" || { diff <(head -c 2000 "$WANT") <(head -c 2000 "$tmp/got.jsonl") >&2 || true;
                                     fail "export of the golden directory differs from what format 2 held"; }
queries >"$tmp/q.json" || fail "queries failed"
cmp -s "$tmp/q.json" "$WANTQ" || { diff "$WANTQ" "$tmp/q.json" >&2 || true; fail "aggregate answers differ"; }
grep -q '"241"' "$tmp/q.json" || fail "the late sample is not counted in its interval"

# a rules job folds the late sample into its row: same answers
"$BIN" compact -d "$tmp/db" --partition 1h \
    --downsampling '{__name__=~"node_load1|node_network_receive_bytes_total"}:30d:5m' >/dev/null ||
    fail "compaction of the golden data failed"
"$BIN" verify -d "$tmp/db" >/dev/null || fail "verify after compaction"
"$BIN" inspect -d "$tmp/db" --partition 1h --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["levels"][0]["files"] == 0, "a level-0 file is left: %r" % d["levels"][0]' ||
    fail "the rules job did not take the late write"
queries >"$tmp/q2.json" || fail "queries after compaction failed"
cmp -s "$tmp/q2.json" "$WANTQ" || { diff "$WANTQ" "$tmp/q2.json" >&2 || true;
                                    fail "aggregate answers changed through the rules job"; }
echo "golden_format2: format 2 directory verified, read back exactly, rolled up without change"
