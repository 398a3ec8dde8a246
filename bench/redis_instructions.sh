#!/usr/bin/env bash
# Redis's CPU instructions per message (valgrind's callgrind on a private redis-server), for each path: the
# repeatable count behind bench/redis_cost.sh's µs, which drift with whatever else the machine runs. Redis
# shares the machine's cores with the server and wrk, so what it spends a message costs requests/s too.
# Counts every instruction Redis runs between two dumps: the scripts, their commands, reading and writing
# the sockets, expiring keys. A second redis-server on REDIS_PORT (6395), nothing kept on disk; one
# `healthbot serve` at full speed uses it. N=2000 a path, PATHS="keyword cached dialog" by default.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
WARM=400
REDIS_PORT=${REDIS_PORT:-6395}
source bench/common.sh
need valgrind
config plain 8386 8387
sed -i "s|redis://127.0.0.1:6379/0|redis://127.0.0.1:$REDIS_PORT/0|" "$work/plain.toml"
valgrind --tool=callgrind --callgrind-out-file="$work/redis.%p" redis-server --port "$REDIS_PORT" --save "" \
  --appendonly no >"$work/redis.log" 2>&1 &
vg=$!; pids+=($vg)
for _ in $(seq 1 300); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
$HB standin --config "$work/plain.toml" --port 8387 >"$work/standin.log" 2>&1 & pids+=($!)
export HB_STANDIN=http://127.0.0.1:8387  # where bench.signed_requests reads the claims' SMS codes
$HB serve --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!)
up http://127.0.0.1:8387/; up http://127.0.0.1:8386/healthz
SCENE=$(venue "$work/plain.toml")
dump=0
printf '%-10s %16s %14s\n' path "Redis instr/msg" "commands/msg"
for path in ${PATHS:-keyword cached dialog}; do
  [ "$path" = venue ] && while [ $((10#$(date +%S))) -gt 5 ]; do sleep 0.5; done
  $PY -m bench.signed_requests --url http://127.0.0.1:8386/wechat --path "$path" --out "$work/req.txt" \
    --count $((WARM + N)) --users 200 --tag "r$RANDOM" --scene "$SCENE" >/dev/null
  redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
  refused=$($PY -m bench.callgrind_drive --url http://127.0.0.1:8386 --file "$work/req.txt" --warm $WARM --n "$N" \
    --pid $vg)
  [ "$refused" = 0 ] || { echo "$path: $refused requests refused" >&2; exit 1; }
  commands=$(redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,:]' '/^cmdstat_/ && !/resetstat/ {c += $3} END {print c}')
  dump=$((dump + 2))
  total=$(cg_total "$work/redis.$vg.$dump")
  if [ -n "${KEEP:-}" ]; then cp "$work/redis.$vg.$dump" "$KEEP/redis.$path"; fi
  printf '%-10s %16d %14.1f\n' "$path" $((total / N)) "$(echo "$commands / ($WARM + $N)" | bc -l)"
done
