#!/usr/bin/env bash
# System calls per request, by call, for each path and for both floors: `strace -c -f` attached to the process
# that answers, over a wrk run of fresh requests (1 thread, 32 connections). strace slows the process, so the
# run's req/s means nothing here; the counts per request do: each write, read and epoll_wait is a kernel entry.
# Needs Redis on 127.0.0.1:6379 (keys under hbbench, deleted afterwards) and strace.
# DURATION=3 seconds a run; ONLY="floor stateful keyword cached dialog venue" picks rows.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-3}
source bench/common.sh
need wrk
need strace
config plain 8381 8380
$HB standin --config "$work/plain.toml" --port 8380 >"$work/standin.log" 2>&1 & pids+=($!)
export HB_STANDIN=http://127.0.0.1:8380
$HB serve --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!); server=$!
$PY bench/floor.py --port 8383 >"$work/floor.log" 2>&1 & pids+=($!); floor=$!
$PY bench/floor_stateful.py --port 8385 --prefix hbbench:floor >"$work/stateful.log" 2>&1 & pids+=($!); stateful=$!
for port in 8381 8383 8385; do up "http://127.0.0.1:$port/healthz"; done
SCENE=$(venue "$work/plain.toml")

count() {  # count LABEL PID PORT KIND: one row, then the calls that make up most of it
  local name="$4-$RANDOM" out n
  gen "$3" "$4" "$name"
  strace -c -f -q -p "$2" -o "$work/$name.strace" & local tracer=$!
  sleep 0.5
  out=$(fresh_wrk "$3" "$name")
  kill -INT $tracer; wait $tracer 2>/dev/null || true
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  # strace -c: "% time, seconds, usecs/call, calls, [errors,] syscall" a row
  awk -v n="$n" -v label="$1" '$1 ~ /^[0-9.]+$/ && $NF != "total" { c[$NF] = $4; total += $4 }
    END { printf "%-44s %8d %8.2f\n", label, n, total / n
          for (k in c) if (c[k] / n >= 0.05) printf "    %-18s %6.2f\n", k, c[k] / n }' "$work/$name.strace"
}

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
printf '%-44s %8s %8s\n' path requests "syscalls/req"
want floor && count "honest floor" "$floor" 8383 keyword
want stateful && count "stateful floor" "$stateful" 8385 keyword
want keyword && count "防疫健康信息码, new user" "$server" 8381 keyword
want cached && count "image cached" "$server" 8381 cached
want dialog && count "dialog step" "$server" 8381 dialog
want venue && count "场所码 scan" "$server" 8381 venue
