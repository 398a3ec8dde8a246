#!/usr/bin/env bash
# One table: each path's requests/s with wrk (1 thread, 32 connections, fresh MsgId and user each request)
# against ONE healthbot process, as a ratio of two floors: the honest floor (bench/floor.py) and the stateful
# floor (bench/floor_stateful.py: the honest floor plus the one Redis round trip a bot needs), each in safe
# mode for the safe-mode row. The machine's speed drifts from minute to minute, so each path runs ROUNDS
# times, each round right after a run of each floor of the same length: a ratio is the median of the rounds'
# ratios, req/s, p50 and p99 the medians of the path's runs. Every run gets fresh requests (a stale
# timestamp is refused, by the floors too); non2xx counts all runs of each round.
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
$PY bench/floor_stateful.py --port 8395 --prefix hbbench:floor >"$work/stateful.log" 2>&1 & pids+=($!)
pid_of[8395]=$!
$PY bench/floor_stateful.py --port 8396 --prefix hbbench:floor-aes --aes-key "$AES" >"$work/stateful-aes.log" 2>&1 &
pids+=($!); pid_of[8396]=$!
for port in 8391 8392 8393 8394 8395 8396; do up "http://127.0.0.1:$port/healthz"; done
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
runs=0  # a number for each floor run's requests file
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

measure() {  # measure LABEL TARGET [PORT KIND [aes]]: ROUNDS triples (floor, stateful floor, path); one row
  # TARGET is against the stateful floor. Without PORT: the two floors' own row (ratio: stateful / honest).
  local label=$1 target=$2; shift 2
  local rows=() r p50 p99 bad fr fbad sr sbad name floor=8393 stateful=8395 kind=keyword cpu fcpu scpu redis x
  [ "${3:-}" = aes ] && { floor=8394 stateful=8396; }
  for round in $(seq 1 "$ROUNDS"); do
    [ -n "${1:-}" ] && { name="$2-$round"; gen "$1" "$2" "$name" ${3:-}; }
    # The floors' requests are fresh each round too: both refuse a timestamp older than the replay window.
    runs=$((runs + 1))
    gen "$floor" "$kind" "floor-$runs" ${3:-}
    read -r fr x x fbad fcpu x < <(run "$floor" "floor-$runs")
    gen "$stateful" "$kind" "stateful-$runs" ${3:-}
    read -r sr p50 p99 sbad scpu redis < <(run "$stateful" "stateful-$runs")
    r=$sr bad=0 cpu=$scpu
    [ -n "${1:-}" ] && read -r r p50 p99 bad cpu redis < <(run "$1" "$name")
    rows+=("$r $(echo "$r / $fr" | bc -l) $(echo "$r / $sr" | bc -l) $p50 $p99 $((bad + fbad + sbad)) $cpu \
$(echo "$fcpu / $cpu" | bc -l) $redis")
  done
  col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
  printf '%-52s %8.0f %6.2f %6.2f %7s %7.1f ms %7.1f ms %6d %7.0f %5.2f %7.0f\n' "$label" "$(col 1)" "$(col 2)" \
    "$(col 3)" "$target" "$(col 4)" "$(col 5)" "$(printf '%s\n' "${rows[@]}" | awk '{s+=$6} END {print s}')" \
    "$(col 7)" "$(col 8)" "$(col 9)"
}

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }  # ONLY="keyword aes": just those rows
printf '%-52s %8s %6s %6s %7s %10s %10s %6s %7s %5s %7s\n' path "req/s" honest stateful target p50 p99 non2xx \
  cpu_us ratio redis_us
want floor && measure "stateful floor (floor_stateful.py: no code of ours)" ""
want keyword && measure "防疫健康信息码, new user (dedup+lock+state+template)" ">=0.85" 8391 keyword
want cached && measure "防疫健康信息码, claimed user, image cached" ">=0.80" 8391 cached
want dialog && measure "dialog step (validate ID, write state)" ">=0.75" 8391 dialog
want venue && measure "场所码 scan (SCAN: entry + stamped image, cached)" ">=0.70" 8391 venue
want floor-aes && measure "stateful floor, safe mode (AES)" "" "" "" aes
want aes && measure "防疫健康信息码, image cached, safe mode" ">=0.80" 8392 cached aes
want render && $PY bench/render.py
