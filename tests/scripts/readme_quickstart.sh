#!/usr/bin/env bash
# readme_quickstart.sh: the command-line quick start of README.md runs as
# written (in a temporary directory instead of /tmp, with the build's
# binaries): every command of the block under "## Quick start" up to the
# HTTP part exits 0, and the PromQL queries print answers.
# Env (set by CTest): STRATA_SRC, STRATA_BUILD.
set -euo pipefail
SRC=${STRATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${STRATA_BUILD:-$SRC/build}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the indented lines of the section, joined where they end in '\', until
# the HTTP part; `make` is the build this test runs in
awk '/^## Quick start/{on=1; next} on && /^Over HTTP/{exit} on && /^    /{print substr($0, 5)}' "$SRC/README.md" |
    sed -e ':a' -e '/\\$/N; s/\\\n[ ]*/ /; ta' | grep -v '^make' >"$tmp/cmds"
[ "$(wc -l <"$tmp/cmds")" -ge 5 ] || fail "README's quick start has too few commands: $(cat "$tmp/cmds")"
grep -q 'strata query' "$tmp/cmds" || fail "the quick start shows no query"
grep -q 'rate(' "$tmp/cmds" || fail "the quick start shows no PromQL beyond a selector"
# /tmp/ first: the build directory may itself be under /tmp
sed -i -e "s#/tmp/#$tmp/#g" -e "s#\(^\|[ (]\)build/#\1$BUILD/#g" "$tmp/cmds"
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    out=$(bash -c "$cmd" 2>&1) || fail "command $n exited $?: $cmd
$out"
    case "$cmd" in
    *"strata query"*) [ -n "$out" ] || fail "command $n printed nothing: $cmd" ;;
    esac
done <"$tmp/cmds"
echo "readme_quickstart: $n commands of README's quick start ran"
