#!/usr/bin/env bash
# One worker against two (`healthbot serve --workers 2`), new-user keyword path, wrk with one thread and 32
# connections, ROUNDS paired rounds of DURATION seconds. On this machine wrk and Redis share the two cores
# with the workers, so two workers cannot reach twice one: the figure is a floor for a host with free cores.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
source bench/common.sh
config one 8481 8480; config two 8482 8480
$HB standin --config "$work/one.toml" --port 8480 >"$work/standin.log" 2>&1 & pids+=($!)
$HB serve --config "$work/one.toml" >"$work/one.log" 2>&1 & pids+=($!)
$HB serve --config "$work/two.toml" --workers 2 >"$work/two.log" 2>&1 & pids+=($!)
for port in 8481 8482; do up "http://127.0.0.1:$port/healthz"; done
sleep 2
rps() {  # rps PORT NAME: requests/s of a one-thread wrk run on fresh requests
  $PY -m bench.signed_requests --url "http://127.0.0.1:$1/wechat" --path keyword --out "$work/$2.txt" \
    --tag "$2$RANDOM" --count $((DURATION * 25000)) >/dev/null
  wrk -t1 -c32 -d"${DURATION}s" -s bench/replay.lua "http://127.0.0.1:$1/wechat" -- "$work/$2.txt" 1 \
    | awk '/Requests\/sec/ {print $2}'
}
printf '%-8s %12s %12s %8s\n' round "1 worker" "2 workers" ratio
for round in $(seq 1 "$ROUNDS"); do
  a=$(rps 8481 "one$round"); b=$(rps 8482 "two$round")
  printf '%-8s %12.0f %12.0f %8.2f\n' "$round" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
