#!/usr/bin/env bash
# One worker against two (`healthbot serve --workers 2`), new-user keyword path, wrk with one thread and 32
# connections, ROUNDS paired rounds of DURATION seconds. On this machine wrk and Redis share the two cores
# with the workers, so two workers cannot reach twice one: the figure is a floor for a host with free cores.
# Beside it, the server CPU per request (user + system, every worker summed, from /proc): if two workers
# spend what one spends on a request, nothing in healthbot stands in the way of scaling across free cores.
# Two workers share 32 connections 16 and 16, and a worker with fewer requests in flight batches less (one
# worker at 16 connections spends ~15 % more CPU a request); so two workers also run at 64 connections, as
# many a worker as the one worker has, and "free cores" estimates the scaling from that: 2 x CPU(1) / CPU(2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
source bench/common.sh
need wrk
config one 8481 8480; config two 8482 8480
$HB standin --config "$work/one.toml" --port 8480 >"$work/standin.log" 2>&1 & pids+=($!)
export HB_STANDIN=http://127.0.0.1:8480  # where bench.signed_requests reads the claims' SMS codes
$HB serve --config "$work/one.toml" >"$work/one.log" 2>&1 & pids+=($!); one=$!
$HB serve --config "$work/two.toml" --workers 2 >"$work/two.log" 2>&1 & pids+=($!); two=$!
for port in 8481 8482; do up "http://127.0.0.1:$port/healthz"; done
sleep 2
rps() {  # rps PORT NAME PID [CONNECTIONS]: "requests/s µs-of-CPU-per-request", a one-thread wrk run, fresh requests
  local before out
  $PY -m bench.signed_requests --url "http://127.0.0.1:$1/wechat" --path keyword --out "$work/$2.txt" \
    --tag "$2$RANDOM" --count $((DURATION * 25000)) >/dev/null
  before=$(cpu_ticks "$3")
  out=$(wrk -t1 -c"${4:-32}" -d"${DURATION}s" -s bench/replay.lua "http://127.0.0.1:$1/wechat" -- "$work/$2.txt" 1)
  awk -v t=$(($(cpu_ticks "$3") - before)) -v hz="$(getconf CLK_TCK)" '/Requests\/sec/ {rps=$2} /requests in/ {n=$1}
       END {printf "%s %.0f\n", rps, t * 1e6 / hz / n}' <<<"$out"
}
# req/s and µs of CPU a request; c32/c64: wrk's connections; "free cores": the estimate 2 x CPU(1) / CPU(2, c64)
printf '%-6s %10s %10s %6s %9s %9s %10s %9s %11s\n' round "1w c32" "2w c32" ratio "µs 1w" "µs 2w" "2w c64" "µs 2w" \
  "free cores"
for round in $(seq 1 "$ROUNDS"); do
  read -r a ca < <(rps 8481 "one$round" $one); read -r b cb < <(rps 8482 "two$round" $two)
  read -r c cc < <(rps 8482 "wide$round" $two 64)
  printf '%-6s %10.0f %10.0f %6.2f %9s %9s %10.0f %9s %11.2f\n' "$round" "$a" "$b" "$(echo "$b / $a" | bc -l)" "$ca" "$cb" \
    "$c" "$cc" "$(echo "2 * $ca / $cc" | bc -l)"
done
