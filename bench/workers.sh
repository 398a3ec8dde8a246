#!/usr/bin/env bash
# One worker against two (`healthbot serve --workers 2`), new-user keyword path, wrk with one thread and 32
# connections, ROUNDS paired rounds of DURATION seconds. On this machine wrk and Redis share the two cores
# with the workers, so two workers cannot reach twice one: the figure is a floor for a host with free cores.
# Beside it, the server CPU per request (user + system, every worker summed, from /proc): if two workers
# spend what one spends on a request, nothing in healthbot stands in the way of scaling across free cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
source bench/common.sh
need wrk
config one 8481 8480; config two 8482 8480
$HB standin --config "$work/one.toml" --port 8480 >"$work/standin.log" 2>&1 & pids+=($!)
$HB serve --config "$work/one.toml" >"$work/one.log" 2>&1 & pids+=($!); one=$!
$HB serve --config "$work/two.toml" --workers 2 >"$work/two.log" 2>&1 & pids+=($!); two=$!
for port in 8481 8482; do up "http://127.0.0.1:$port/healthz"; done
sleep 2
rps() {  # rps PORT NAME PID: "requests/s µs-of-CPU-per-request" of a one-thread wrk run on fresh requests
  local before out
  $PY -m bench.signed_requests --url "http://127.0.0.1:$1/wechat" --path keyword --out "$work/$2.txt" \
    --tag "$2$RANDOM" --count $((DURATION * 25000)) >/dev/null
  before=$(cpu_ticks "$3")
  out=$(wrk -t1 -c32 -d"${DURATION}s" -s bench/replay.lua "http://127.0.0.1:$1/wechat" -- "$work/$2.txt" 1)
  awk -v t=$(($(cpu_ticks "$3") - before)) -v hz="$(getconf CLK_TCK)" '/Requests\/sec/ {rps=$2} /requests in/ {n=$1}
       END {printf "%s %.0f\n", rps, t * 1e6 / hz / n}' <<<"$out"
}
printf '%-8s %12s %12s %8s %18s %18s\n' round "1 worker" "2 workers" ratio "µs CPU/req, 1" "µs CPU/req, 2"
for round in $(seq 1 "$ROUNDS"); do
  read -r a ca < <(rps 8481 "one$round" $one); read -r b cb < <(rps 8482 "two$round" $two)
  printf '%-8s %12.0f %12.0f %8.2f %18s %18s\n' "$round" "$a" "$b" "$(echo "$b / $a" | bc -l)" "$ca" "$cb"
done
