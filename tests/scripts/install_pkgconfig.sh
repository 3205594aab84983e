#!/usr/bin/env bash
# install_pkgconfig.sh: `cmake --install` into an empty prefix gives what a
# packager expects, and the README's C program builds against it as a user
# would build it:
#   - lib/libstrata.so.0 (SONAME libstrata.so.0) exporting only strata_*,
#   - lib/libstrata.a defining no global symbol without the strata_ prefix,
#   - include/strata.h, lib/pkgconfig/strata.pc, bin/strata, share/man/man1/strata.1;
#   - `cc example.c $(pkg-config --cflags --libs strata)` links the shared
#     library, runs and prints the samples it wrote;
#   - `pkg-config --static` links the static library the same way.
# Env (set by CTest): STRATA_SRC, STRATA_BUILD.
set -euo pipefail

SRC=${STRATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${STRATA_BUILD:-$SRC/build}
CC=${CC:-cc}
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install "$BUILD" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

libdir=$(ls -d "$prefix"/lib* | head -n 1)
for f in "$libdir/libstrata.so.0" "$libdir/libstrata.so" "$libdir/libstrata.a" "$prefix/include/strata.h" \
         "$libdir/pkgconfig/strata.pc" "$prefix/bin/strata" "$prefix/share/man/man1/strata.1"; do
    [ -e "$f" ] || fail "missing after install: ${f#$prefix/}"
done

soname=$(objdump -p "$libdir/libstrata.so.0" | awk '/SONAME/{print $2}')
[ "$soname" = libstrata.so.0 ] || fail "SONAME is '$soname', want libstrata.so.0"
bad=$(nm -D --defined-only "$libdir/libstrata.so.0" | awk '{print $NF}' | grep -v '^strata_' || true)
[ -z "$bad" ] || fail "libstrata.so exports symbols without the strata_ prefix: $(echo $bad | head -c 400)"
bad=$(nm -g --defined-only "$libdir/libstrata.a" | awk 'NF==3{print $3}' | grep -v '^strata_' || true)
[ -z "$bad" ] || fail "libstrata.a defines globals without the strata_ prefix: $(echo $bad | head -c 400)"

san=""
if grep -q 'STRATA_SAN:STRING=address' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    san="-fsanitize=address,undefined"
elif grep -q 'STRATA_SAN:STRING=thread' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    san="-fsanitize=thread"
fi

awk '/<!-- example:begin -->/{on=1; next} /<!-- example:end -->/{on=0} on && !/^```/' "$SRC/README.md" >"$tmp/example.c"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror $san -o "$tmp/example_shared" "$tmp/example.c" \
    $(pkg-config --cflags --libs strata) 2>"$tmp/cc.err" || { cat "$tmp/cc.err" >&2; fail "pkg-config build (shared)"; }
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror $san -o "$tmp/example_static" "$tmp/example.c" \
    $(pkg-config --cflags strata) "$libdir/libstrata.a" $(pkg-config --static --libs-only-l strata | sed 's/-lstrata//') \
    2>"$tmp/cc.err" || { cat "$tmp/cc.err" >&2; fail "pkg-config build (static)"; }

# ldd's output whole first: grep -q would stop reading early, and under
# pipefail ldd's SIGPIPE would fail the check
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/example_shared")
case "$deps" in
*"$libdir/libstrata.so.0"*) ;;
*) fail "example_shared does not load the installed libstrata.so.0: $deps" ;;
esac

want=$'cpu_usage_user 1700000000000 1.5\ncpu_usage_user 1700000010000 2.25\ncpu_usage_user 1700000020000 3'
for kind in shared static; do
    mkdir -p "$tmp/run-$kind"
    out=$(cd "$tmp/run-$kind" && LD_LIBRARY_PATH="$libdir" "$tmp/example_$kind") || fail "$kind example exited $?"
    [ "$out" = "$want" ] || fail "$kind example printed:
$out"
done
if command -v man >/dev/null 2>&1; then
    page=$(MANWIDTH=80 man -l "$prefix/share/man/man1/strata.1" 2>/dev/null || true)
    case "$page" in *"strata serve"*) ;; *) fail "the installed man page does not render" ;; esac
fi
echo "install_pkgconfig: installed, SONAME and symbols right, README example built with pkg-config (shared and static) and ran"
