#!/usr/bin/env bash
# One table: each path's requests/s with wrk (32 connections, fresh MsgId and user each request) against ONE
# healthbot process, as a ratio of the floor (bench/floor.py). The machine's speed drifts from minute to
# minute, so each path runs ROUNDS times, each round right after a floor run of the same length: the ratio
# is the median of the rounds' ratios, req/s, p50 and p99 the medians of the path's runs. Every run gets
# fresh requests (a stale timestamp is refused, by the floor too); non2xx counts both runs of each round.
# Needs Redis on 127.0.0.1:6379 (keys under the prefix hbbench, deleted afterwards).
# DURATION=5 seconds a run and ROUNDS=5 by default; ONLY="keyword cached dialog venue aes floor floor-aes render"
# picks rows. Beside req/s: the CPU (user + system) each request cost the process that answered it, and Redis,
# from /proc: steadier than req/s on this shared machine, and it shows whose time a gap is.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
source bench/common.sh
need wrk

config plain 8391 8390
config aes 8392 8390 "$AES"
$HB standin --config "$work/plain.toml" --port 8390 >"$work/standin.log" 2>&1 & pids+=($!)
export HB_STANDIN=http://127.0.0.1:8390  # where bench.signed_requests reads the claims' SMS codes
declare -A pid_of  # port -> the process answering on it
$HB serve --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!); pid_of[8391]=$!
$HB serve --config "$work/aes.toml" >"$work/aes.log" 2>&1 & pids+=($!); pid_of[8392]=$!
$PY bench/floor.py --port 8393 >"$work/floor.log" 2>&1 & pids+=($!); pid_of[8393]=$!
$PY bench/floor.py --port 8394 --aes-key "$AES" >"$work/floor-aes.log" 2>&1 & pids+=($!); pid_of[8394]=$!
for port in 8391 8392 8393 8394; do up "http://127.0.0.1:$port/healthz"; done
sleep 0.5

SCENE=$(venue "$work/plain.toml")

run() {  # run PORT FILE -> "req/s p50_ms p99_ms non2xx cpu_us redis_us" (CPU per request)
  local pid=${pid_of[$1]} before redis_before out
  before=$(cpu_ticks "$pid") redis_before=$(redis_cpu)
  out=$(fresh_wrk "$1" "$2")
  awk -v cpu=$(($(cpu_ticks "$pid") - before)) -v redis="$(echo "$(redis_cpu) - $redis_before" | bc -l)" \
      -v hz="$(getconf CLK_TCK)" '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$4} /requests in/ {n=$1}
       function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
       $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
       END {printf "%s %.2f %.2f %d %.1f %.1f\n", rps, p50, p99, bad, cpu / hz / n * 1e6, redis / n * 1e6}' \
    <<<"$out"
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

measure() {  # measure LABEL TARGET FLOOR_PORT FLOOR_FILE [PORT KIND [aes]]: ROUNDS pairs; prints one row
  local label=$1 target=$2; shift 2
  local rows=() r p50 p99 bad fr fbad name floor_aes cpu fcpu redis
  [ "$2" = floor-aes ] && floor_aes=aes
  for round in $(seq 1 "$ROUNDS"); do
    [ -n "${3:-}" ] && { name="$4-$round"; gen "$3" "$4" "$name" ${5:-}; }
    # The floor's requests are fresh each round too: both refuse a timestamp older than the replay window.
    gen "$1" keyword "$2-$round" ${floor_aes:-}
    read -r fr p50 p99 fbad fcpu redis < <(run "$1" "$2-$round")
    r=$fr bad=0 cpu=$fcpu
    [ -n "${3:-}" ] && read -r r p50 p99 bad cpu redis < <(run "$3" "$name")
    rows+=("$r $(echo "$r / $fr" | bc -l) $p50 $p99 $((bad + fbad)) $cpu $(echo "$fcpu / $cpu" | bc -l) $redis")
  done
  col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
  printf '%-58s %9.0f %7.2f %7s %8.1f ms %8.1f ms %6d %7.0f %5.2f %7.0f\n' "$label" "$(col 1)" "$(col 2)" "$target" \
    "$(col 3)" "$(col 4)" "$(printf '%s\n' "${rows[@]}" | awk '{s+=$5} END {print s}')" "$(col 6)" "$(col 7)" "$(col 8)"
}

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }  # ONLY="keyword aes": just those rows
printf '%-58s %9s %7s %7s %11s %11s %6s %7s %5s %7s\n' path "req/s" ratio target p50 p99 non2xx cpu_us ratio \
  redis_us
want floor && measure "floor (bench/floor.py: no code of ours)" "" 8393 floor
want keyword && measure "防疫健康信息码, new user (dedup+lock+state+template)" ">=0.55" 8393 floor 8391 keyword
want cached && measure "防疫健康信息码, claimed user, image cached" ">=0.50" 8393 floor 8391 cached
want dialog && measure "dialog step (validate ID, write state)" ">=0.50" 8393 floor 8391 dialog
want venue && measure "场所码 scan (SCAN: entry + stamped image, cached)" ">=0.45" 8393 floor 8391 venue
want floor-aes && measure "floor, safe mode (AES)" "" 8394 floor-aes
want aes && measure "防疫健康信息码, image cached, safe mode" ">=0.55" 8394 floor-aes 8392 cached aes
want render && $PY bench/render.py
