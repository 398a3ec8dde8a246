#!/usr/bin/env bash
# One table: each path's requests/s with wrk (32 connections, fresh MsgId and user each request) against ONE
# healthbot process, as a ratio of the floor (bench/floor.py) measured in the same run, with p50 and p99.
# Needs Redis on 127.0.0.1:6379 (keys under the prefix hbbench, deleted afterwards). DURATION=10 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PY=.venv/bin/python
HB=.venv/bin/healthbot
DURATION=${DURATION:-10}
AES=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  redis-cli --scan --pattern 'hbbench:*' | xargs -r -n 1000 redis-cli del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

config() {  # config NAME PORT [AES]
  cat > "$work/$1.toml" <<TOML
[wechat]
token = "bench-token"
app_id = "wx2c2769f8efd9abc2"
app_secret = "bench-secret"
encoding_aes_key = "${3:-}"
api_base = "http://127.0.0.1:8390"
[redis]
url = "redis://127.0.0.1:6379/0"
prefix = "hbbench"
[server]
port = $2
[render]
image_cache_seconds = 3600
[limits]
messages_burst = 1000000
[security]
$($HB keygen)
TOML
}
wait_for() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }

config plain 8391
config aes 8392 "$AES"
$HB standin --config "$work/plain.toml" --port 8390 >"$work/standin.log" 2>&1 & pids+=($!)
$HB serve --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!)
$HB serve --config "$work/aes.toml" >"$work/aes.log" 2>&1 & pids+=($!)
$PY bench/floor.py --port 8393 >"$work/floor.log" 2>&1 & pids+=($!)
$PY bench/floor.py --port 8394 --aes-key "$AES" >"$work/floor-aes.log" 2>&1 & pids+=($!)
for port in 8391 8392 8393 8394; do wait_for "http://127.0.0.1:$port/healthz"; done
sleep 0.5

gen() { $PY -m bench.signed_requests --url "http://127.0.0.1:$1/wechat" --path "$2" --out "$work/$3.txt" ${4:+--aes-key $AES} --tag "$3$RANDOM"; }
gen 8393 keyword floor
gen 8391 keyword keyword
gen 8391 cached cached
gen 8391 dialog dialog
gen 8394 keyword floor-aes aes
gen 8392 cached cached-aes aes

measure() {  # measure PORT FILE -> "req/s p50 p99"
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -s bench/replay.lua "http://127.0.0.1:$1/wechat" -- "$work/$2.txt" 2)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  echo "$rps $p50 $p99 ${errors:-0}"
}
read -r floor_rps floor_p50 floor_p99 floor_err < <(measure 8393 floor)
read -r aes_rps aes_p50 aes_p99 aes_err < <(measure 8394 floor-aes)
printf '%-58s %9s %7s %9s %9s %6s\n' path "req/s" ratio p50 p99 non2xx
row() { printf '%-58s %9.0f %7.2f %9s %9s %6s\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)" "$4" "$5" "$6"; }
row "floor (signature + parse + fixed reply)" "$floor_rps" "$floor_rps" "$floor_p50" "$floor_p99" "$floor_err"
read -r r p50 p99 e < <(measure 8391 keyword); row "防疫健康信息码, new user (dedup+lock+state+template)" "$r" "$floor_rps" "$p50" "$p99" "$e"
read -r r p50 p99 e < <(measure 8391 cached); row "防疫健康信息码, claimed user, image cached" "$r" "$floor_rps" "$p50" "$p99" "$e"
read -r r p50 p99 e < <(measure 8391 dialog); row "dialog step (validate ID, write state)" "$r" "$floor_rps" "$p50" "$p99" "$e"
row "floor, safe mode (AES)" "$aes_rps" "$aes_rps" "$aes_p50" "$aes_p99" "$aes_err"
read -r r p50 p99 e < <(measure 8392 cached-aes); row "防疫健康信息码, image cached, safe mode" "$r" "$aes_rps" "$p50" "$p99" "$e"
$PY bench/render.py
