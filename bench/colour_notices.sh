#!/usr/bin/env bash
# Importing colour changes for PEOPLE claimed people (100,000) with `healthbot admin status import`, while
# `serve --workers 2` sends their notices to the stand-in WeChat API at RATE a second a worker. Prints: the
# import's time, the notices queued, the rate they drain at, and the webhook's req/s and p99 on the
# 防疫健康信息码 path (claimed users, image cached) while they drain, beside the same load before the import.
# PEOPLE=100000 RATE=500 ([notices] per_second, each worker) DURATION=10 (wrk seconds); DRAIN_SECONDS caps the wait
# for the whole drain (default 900), and the rate is then what was sent by then.
# Needs Redis on 127.0.0.1:6379 (keys under the prefix hbbench, deleted afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
PEOPLE=${PEOPLE:-100000}
DURATION=${DURATION:-10}
RATE=${RATE:-500}
DRAIN_SECONDS=${DRAIN_SECONDS:-900}
source bench/common.sh
need wrk

config colours 8481 8390
cat >> "$work/colours.toml" <<TOML
[notices]
colour_template = "TPL-bench"
per_second = $RATE
TOML
$HB standin --config "$work/colours.toml" --port 8390 >"$work/standin.log" 2>&1 & pids+=($!); standin=$!
export HB_STANDIN=http://127.0.0.1:8390
$HB serve --config "$work/colours.toml" --workers 2 >"$work/serve.log" 2>&1 & pids+=($!)
up http://127.0.0.1:8481/healthz
up http://127.0.0.1:8390/_standin/templates

sent() { curl -s "http://127.0.0.1:8390/_standin/templates?since=1000000000" | grep -o '"next": [0-9]*' | grep -o '[0-9]*$'; }
load() {  # load NAME: "req/s p99_ms non2xx standin_cpu%" of one wrk run on fresh requests of claimed users
  gen 8481 cached "$1"
  local ticks out
  ticks=$(cpu_ticks "$standin")
  out=$(fresh_wrk 8481 "$1")
  awk -v cpu=$(($(cpu_ticks "$standin") - ticks)) -v hz="$(getconf CLK_TCK)" -v s="$DURATION" \
    '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$4}
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
    $1=="99%" {p99=ms($2)} END {printf "%s %.2f %d %.0f\n", rps, p99, bad, cpu / hz / s * 100}' <<<"$out"
}

$PY -m bench.colour_seed --config "$work/colours.toml" --people "$PEOPLE" --out "$work/status.csv"
read -r base_rps base_p99 base_bad _ < <(load before)
start=$(date +%s.%N)
$HB admin status import --config "$work/colours.toml" "$work/status.csv" 2>/dev/null | tail -1
imported=$(date +%s.%N)
queued=$(redis-cli xlen hbbench:notices)
at_import=$(sent)
read -r rps p99 bad standin_cpu < <(load during)
during_end=$(date +%s.%N)
at_load_end=$(sent)
while [ "$(sent)" -lt "$PEOPLE" ]; do
  sleep 0.5
  if [ "$(echo "$(date +%s.%N) - $imported > $DRAIN_SECONDS" | bc)" = 1 ]; then break; fi
done
drained=$(date +%s.%N)
total=$(sent)

printf 'import of %d changes: %.1f s (%.0f rows/s)\n' "$PEOPLE" "$(echo "$imported - $start" | bc)" \
  "$(echo "$PEOPLE / ($imported - $start)" | bc -l)"
printf 'notices queued at the import'"'"'s end: %d in the stream, %d already sent\n' "$queued" "$at_import"
printf 'drain: %d of %d notices in %.1f s after the import: %.0f a second (%d workers x %s)\n' "$total" "$PEOPLE" \
  "$(echo "$drained - $imported" | bc)" "$(echo "$total / ($drained - $imported)" | bc -l)" 2 "$RATE"
printf 'drain during the load: %.0f a second; the stand-in WeChat API took %s %% of a core meanwhile\n' \
  "$(echo "($at_load_end - $at_import) / ($during_end - $imported)" | bc -l)" "$standin_cpu"
printf '防疫健康信息码 (cached image), wrk 32 connections %ss: before %s req/s p99 %s ms (non-2xx %s); while draining %s req/s p99 %s ms (non-2xx %s); req/s ratio %.2f\n' \
  "$DURATION" "$base_rps" "$base_p99" "$base_bad" "$rps" "$p99" "$bad" "$(echo "$rps / $base_rps" | bc -l)"
