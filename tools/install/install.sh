#!/usr/bin/env bash
# tools/install/install.sh — behind `tools/bazel run //:install -- --prefix=DIR`:
# installs gort for builds that are not Bazel.
#
#   DIR/include/gort.h
#   DIR/lib/libgort.a                 (static)
#   DIR/lib/libgort.so.0.1.0          (shared; soname libgort.so.0)
#   DIR/lib/libgort.so.0, libgort.so  (symlinks)
#   DIR/lib/pkgconfig/gort.pc         pkg-config --cflags --libs gort
# and on linux the libc hooks (docs/blocking.md):
#   DIR/lib/libgort-hooks.a, DIR/lib/libgort-hooks.so, DIR/lib/gort-hooks.symbols
#   DIR/lib/pkgconfig/gort-hooks.pc   pkg-config --libs gort-hooks
set -euo pipefail
prefix=
for a in "$@"; do
  case $a in
    --prefix=*) prefix=${a#--prefix=} ;;
    *) echo "usage: tools/bazel run //:install -- --prefix=DIR" >&2; exit 2 ;;
  esac
done
[[ -n $prefix ]] || { echo "install: --prefix=DIR is required" >&2; exit 2; }
[[ $prefix == /* ]] || prefix=${BUILD_WORKING_DIRECTORY:-$PWD}/$prefix

# Our inputs, from the runfiles tree.
here=${RUNFILES_DIR:-$0.runfiles}/gort
version=0.1.0
install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$here/runtime/gort.h" "$prefix/include/gort.h"
archive=
for f in "$here/runtime/libgort.a" "$here/runtime/libgort.lo"; do  # .lo: alwayslink
  [[ -f $f ]] && archive=$f
done
[[ -n $archive ]] || { echo "install: libgort.a not found in $here/runtime" >&2; exit 1; }
install -m 644 "$archive" "$prefix/lib/libgort.a"
install -m 755 "$here/runtime/libgort.so.0" "$prefix/lib/libgort.so.$version"
ln -sf "libgort.so.$version" "$prefix/lib/libgort.so.0"
ln -sf "libgort.so.0" "$prefix/lib/libgort.so"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$here/tools/install/gort.pc.in" >"$prefix/lib/pkgconfig/gort.pc"
if [[ -f $here/runtime/libgort-hooks.so ]]; then
  hooks_archive=
  for f in "$here/runtime/libgort_hooks.a" "$here/runtime/libgort_hooks.lo"; do
    [[ -f $f ]] && hooks_archive=$f
  done
  [[ -n $hooks_archive ]] || { echo "install: libgort_hooks.a not found in $here/runtime" >&2; exit 1; }
  install -m 644 "$hooks_archive" "$prefix/lib/libgort-hooks.a"
  install -m 755 "$here/runtime/libgort-hooks.so" "$prefix/lib/libgort-hooks.so"
  install -m 644 "$here/runtime/gort-hooks.symbols" "$prefix/lib/gort-hooks.symbols"
  sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$here/tools/install/gort-hooks.pc.in" >"$prefix/lib/pkgconfig/gort-hooks.pc"
fi
echo "gort $version installed in $prefix (pkg-config: PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
