#!/usr/bin/env bash
# //tests:gdb_test: tools/gdb/gort.py against a live program (tests/gdb_test.py).
set -euo pipefail
exec gdb -nx -batch -x tests/gdb_test.py tests/gdb_target
