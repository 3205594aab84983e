#!/usr/bin/env bash
# golden_format1.sh: a data directory written by strata 0.1.0 (storage
# format 1, tests/golden/format1/, made once by tests/golden/make_format1.sh)
# still opens and reads back exactly: tables at two levels over three
# partitions, a tombstone in the manifest, and a WAL tail with samples, a
# new series and a delete that the open replays. A change that stops this
# build from reading format 1 fails here; a new format version must keep
# reading this directory or say, with a version bump, why it cannot.
# Env (set by CTest): STRATA_BIN, STRATA_SRC.
set -euo pipefail
SRC=${STRATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${STRATA_BIN:-$SRC/build/strata}
GOLD="$SRC/tests/golden/format1"
WANT="$SRC/tests/golden/format1.expected.jsonl"
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a "$GOLD" "$tmp/db" # opening writes (LOCK, DIRTY, WAL repair): never the committed copy
[ "$(cat "$tmp/db/VERSION")" = 1 ] || fail "the golden directory is not format 1"

"$BIN" verify -d "$tmp/db" >"$tmp/verify.out" 2>&1 || { cat "$tmp/verify.out" >&2; fail "verify found damage"; }
"$BIN" export -d "$tmp/db" --partition 1h >"$tmp/got.jsonl" || fail "export failed"
cmp -s "$tmp/got.jsonl" "$WANT" || { diff <(head -c 2000 "$WANT") <(head -c 2000 "$tmp/got.jsonl") >&2 || true;
                                     fail "export of the golden directory differs from what format 1 held"; }
n=$(wc -l <"$tmp/got.jsonl")
[ "$n" -eq 8 ] || fail "expected 8 series, got $n"
grep -q '"golden_only"' "$tmp/got.jsonl" || fail "the series that was only in the WAL is missing"

# the database stays writable and consistent: a write, a full compaction
# (which rewrites the old tables and applies the tombstones), same answer
printf 'golden_new value=1 1704120000\n' | "$BIN" write -d "$tmp/db" --partition 1h --precision s - >/dev/null
"$BIN" compact -d "$tmp/db" --partition 1h --full >/dev/null || fail "compaction of the golden data failed"
"$BIN" verify -d "$tmp/db" >/dev/null || fail "verify after compaction"
"$BIN" export -d "$tmp/db" --partition 1h | grep -v '"golden_new"' >"$tmp/after.jsonl"
cmp -s "$tmp/after.jsonl" "$WANT" || fail "the golden data changed through a compaction"
echo "golden_format1: format 1 directory verified, read back exactly, compacted without change"
