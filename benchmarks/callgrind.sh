#!/usr/bin/env bash
# callgrind.sh [BINARY] — instructions executed by the hot-path channel
# benchmarks (pingpong, buffered, select), one P, no async preemption
# (callgrind cannot take SIGURG).  Counts are exact and repeatable for one
# binary, whatever else the machine does: the measure for a change to a
# hot path (runtime/HACKING.md).  Without BINARY, builds //benchmarks:chan
# with -c opt first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${1:-}
if [[ -z $bin ]]; then
  tools/bazel build -c opt //benchmarks:chan >&2
  bin=bazel-bin/benchmarks/chan
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for b in PingPong Buffered Select; do
  GORT_MAXPROCS=1 GORT_DEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
    --callgrind-out-file="$out/cg.%p" "$bin" --benchmark_filter="^BM_$b/" >"$out/log" 2>&1
  n=$(grep -o 'Collected : [0-9]*' "$out/log" | awk '{print $3}')
  printf '%-9s %15s instructions\n' "$b" "$n"
done
