#!/usr/bin/env bash
# readme_example.sh: the C program in README.md (between the markers
# <!-- example:begin --> and <!-- example:end -->) compiles against
# include/strata.h and the build's libstrata.a, runs in an empty directory,
# prints the samples it wrote, and finds them again when run a second time
# (the data directory it created reopens).
#
# Env (set by CTest): STRATA_SRC the source tree, STRATA_BUILD the build
# directory holding libstrata.a. CC defaults to cc.
set -euo pipefail

SRC=${STRATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${STRATA_BUILD:-$SRC/build}
CC=${CC:-cc}
LIB="$BUILD/libstrata.a"
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -f "$SRC/README.md" ] || fail "no README.md in $SRC"
[ -f "$LIB" ] || fail "no $LIB (build the strata target first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the fenced code between the markers, without the ``` lines
awk '/<!-- example:begin -->/{on=1; next} /<!-- example:end -->/{on=0} on && !/^```/' "$SRC/README.md" >"$tmp/example.c"
[ -s "$tmp/example.c" ] || fail "README.md has no C program between <!-- example:begin --> and <!-- example:end -->"
grep -q 'main' "$tmp/example.c" || fail "the README example has no main()"

# the sanitizer flags of the build, if any, so an ASan libstrata.a links
san=""
if grep -q 'STRATA_SAN:STRING=address' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    san="-fsanitize=address,undefined"
elif grep -q 'STRATA_SAN:STRING=thread' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    san="-fsanitize=thread"
fi

# as a user would: only the public header, warnings on
$CC -std=c11 -Wall -Wextra -Werror $san -I"$SRC/include" "$tmp/example.c" "$LIB" \
    -lre2 -lstdc++ -lpthread -lm -o "$tmp/example" 2>"$tmp/cc.err" ||
    { cat "$tmp/cc.err" >&2; fail "the README example does not compile with -Wall -Wextra -Werror"; }

cd "$tmp"
# the example prints l[0].value: labels come sorted by name, so l[0] is
# __name__ ('_' sorts before 'h'), then each sample with %g
want=$'cpu_usage_user 1700000000000 1.5\ncpu_usage_user 1700000010000 2.25\ncpu_usage_user 1700000020000 3'
for run in 1 2; do
    out=$(./example) || fail "run $run: the example exited $?"
    [ "$out" = "$want" ] || fail "run $run: output differs
--- want
$want
--- got
$out"
done
[ -f example-data/VERSION ] || fail "the example did not create example-data/"
echo "readme_example: compiled, ran twice, output as expected"
