#!/usr/bin/env bash
# benchmarks/compare.sh — gort against Go 1.19 on every workload of
# ../shared/BENCHMARKS.md, in one run on this machine.
#
#   benchmarks/compare.sh [ROUNDS]      (default 5 rounds)
#
# Builds gort's benchmarks with -c opt and Go's (benchmarks/go/main.go)
# with the system `go` — tools/bazel installs Debian's golang-go if it is
# missing — then runs each workload ROUNDS times, gort and Go alternately,
# and prints one table: workload, gort median, Go median, ratio, bar,
# pass/fail.  The README's benchmark table is this output.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

tools/bazel build -c opt --noshow_progress \
  //benchmarks:chan //benchmarks:sched //benchmarks:steal //benchmarks:preempt //benchmarks:memory \
  //benchmarks:echo //examples:echo >&2
bin=$(tools/bazel info -c opt bazel-bin 2>/dev/null)
GOCACHE=${GOCACHE:-$out/gocache} GOFLAGS=-mod=mod go build -o "$out/gobench" benchmarks/go/main.go

# gort BINARY FILTER COUNTER [AGGREGATE]: the counter of one google
# benchmark case (of its median aggregate when it reports aggregates).
gort() {
  "$bin/benchmarks/$1" --benchmark_filter="$2" --benchmark_format=json 2>/dev/null |
    awk -v key="\"$3\":" -v agg="${4:-}" '
      /"aggregate_name"/ { inagg = ($0 ~ "\"" agg "\"") }
      index($0, key) && (agg == "" || inagg) { v = $2; sub(",", "", v); print v + 0; exit }'
}
go_run() { "$out/gobench" -workload "$1" | awk -v w="$2" '$1 == w { print $3; exit }'; }

echo_round() {  # echo_round SERVER_CMD... -> requests/s
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  "$bin/benchmarks/echo" --addr 127.0.0.1:"$port" --conns 64 --seconds 10 | awk '{ print $3 }'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# name | gort command | Go command | bar | lower is better (1) or higher (0)
declare -a rows=(
  "spawn|gort sched BM_Spawn ns/goroutine|go_run spawn spawn|0.5|1"
  "chained_spawn|gort sched BM_ChainedSpawn ns/spawn|go_run chained_spawn chained_spawn|0.5|1"
  "yield_many|gort sched BM_YieldMany ns/yield|go_run yield_many yield_many|0.5|1"
  "pingpong|gort chan BM_PingPong ns/roundtrip|go_run pingpong pingpong|0.5|1"
  "buffered|gort chan BM_Buffered ns/message|go_run buffered buffered|0.5|1"
  "select|gort chan BM_Select ns/message|go_run select select|0.5|1"
  "mutex|gort chan BM_Mutex ns/increment|go_run mutex mutex|1.0|1"
  "steal|gort steal BM_Steal/P:0/ ns/task median|go_run steal steal|0.6|1"
  "memory (B)|gort memory BM_Memory bytes/goroutine|go_run memory memory|4608B|1"
  "preempt (ms)|gort preempt BM_Preempt worst_ms|go_run preempt preempt|15ms|1"
  "echo (req/s)|port=7301; echo_round $bin/examples/echo -p 7301|port=7302; echo_round $out/gobench -workload echo_server -addr 127.0.0.1:7302|1.0|0"
)

printf '%s, %s CPUs; gort vs Go %s; medians of %s rounds, alternating\n\n' \
  "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || uname -m)" \
  "$(getconf _NPROCESSORS_ONLN)" "$(go version | awk '{ print $3 }')" "$rounds"
printf '| %-14s | %12s | %12s | %6s | %6s | %s |\n' workload gort Go ratio bar result
printf '|%s|%s|%s|%s|%s|%s|\n' ---------------- -------------- -------------- -------- -------- ------
fails=0
for row in "${rows[@]}"; do
  IFS='|' read -r name gcmd gocmd bar lower <<<"$row"
  : >"$out/g"; : >"$out/o"
  for ((r = 0; r < rounds; r++)); do
    eval "$gcmd" >>"$out/g"
    eval "$gocmd" >>"$out/o"
  done
  g=$(median <"$out/g"); o=$(median <"$out/o")
  ratio=$(awk -v g="$g" -v o="$o" 'BEGIN { printf "%.2f", (o > 0 ? g / o : 0) }')
  if [[ -z $g || -z $o ]]; then  # a side printed nothing: that fails
    ok=0
  elif [[ $bar == *ms || $bar == *B ]]; then  # an absolute bar
    ok=$(awk -v g="$g" -v b="${bar%%[mB]*}" 'BEGIN { print (g <= b) }')
  elif [[ $lower == 1 ]]; then
    ok=$(awk -v r="$ratio" -v b="$bar" 'BEGIN { print (r <= b) }')
  else
    ok=$(awk -v r="$ratio" -v b="$bar" 'BEGIN { print (r >= b) }')
  fi
  [[ $ok == 1 ]] && res=pass || { res=FAIL; fails=$((fails + 1)); }
  printf '| %-14s | %12s | %12s | %6s | %6s | %s |\n' "$name" "$g" "$o" "$ratio" "$bar" "$res"
done
eff=$(for ((r = 0; r < rounds; r++)); do gort steal 'BM_Steal/P:0/' efficiency median; done | median)
printf '\nsteal efficiency (serial time / P / wall): gort %s (bar >= 0.9)\n' "$eff"
exit $((fails > 0))
