#!/usr/bin/env bash
# What one message costs Redis, for capacity planning (docs/capacity.md): Redis CPU (INFO cpu, user + system)
# and commands per message, beside the server's own CPU (/proc), over a wrk run of each path against one
# `healthbot serve` process. Redis is single-threaded: its CPU per message bounds messages/s per master.
# Needs Redis on 127.0.0.1:6379 (keys under hbbench, deleted afterwards; INFO's counters are reset).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
source bench/common.sh
need wrk
config plain 8371 8370
$HB standin --config "$work/plain.toml" --port 8370 >"$work/standin.log" 2>&1 & pids+=($!)
export HB_STANDIN=http://127.0.0.1:8370  # where bench.signed_requests reads the claims' SMS codes
$HB serve --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!)
server=$!
up http://127.0.0.1:8371/healthz
SCENE=$(venue "$work/plain.toml")

printf '%-40s %9s %16s %16s %14s\n' path messages "Redis µs/msg" "server µs/msg" "commands/msg"
for path in ${ONLY:-keyword cached dialog venue}; do
  gen 8371 "$path" "$path"
  redis-cli config resetstat >/dev/null
  cpu0=$(redis_cpu); ticks0=$(cpu_ticks "$server")
  out=$(fresh_wrk 8371 "$path")
  cpu1=$(redis_cpu); ticks1=$(cpu_ticks "$server")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  # Commands a script runs are counted on their own too: top-level calls are the scripts and plain reads.
  commands=$(redis-cli info commandstats | awk -F'[=,:]' '/^cmdstat_/ {c += $3} END {print c}')
  printf '%-40s %9d %16.1f %16.1f %14.1f\n' "$path" "$n" "$(echo "($cpu1 - $cpu0) * 1000000 / $n" | bc -l)" \
    "$(echo "($ticks1 - $ticks0) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)" "$(echo "$commands / $n" | bc -l)"
  # Each command's calls per message, most first: where the path's Redis work goes.
  redis-cli info commandstats | awk -F'[=,:]' -v n="$n" '/^cmdstat_/ {sub("cmdstat_", "", $1); printf "%s %.2f\n", $1, $3 / n}' \
    | sort -k2 -gr | head -12 | awk '{printf "    %-14s %5.2f\n", $1, $2}'
done
