#!/usr/bin/env bash
# hooks_preload_test.sh — LD_PRELOAD=libgort-hooks.so on a binary linked
# without the hooks parks its blocked reads (exit 0: few threads); without
# the preload it does not (exit 1).
set -u
here="${TEST_SRCDIR}/${TEST_WORKSPACE}"
bin="$here/tests/blocking_plain"
libs="$here/runtime"
# ASan wants to be first in the library list; a preload comes before it.
export ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
LD_PRELOAD="$libs/libgort-hooks.so" "$bin" || { echo "FAIL: with LD_PRELOAD the reads did not park"; exit 1; }
# Without: a thread per blocked read (exit 1), or, where the runtime does
# not detect foreign calls (ThreadSanitizer), the one P stays blocked.
timeout 20 "$bin"
rc=$?
[[ $rc == 1 || $rc == 124 ]] || { echo "FAIL: without the hooks: exit $rc, want 1 (a thread per blocked read)"; exit 1; }
echo "PASS"
