#!/usr/bin/env bash
# CPU instructions per request (valgrind's callgrind), for the floor and each path of run_all.sh, and their
# ratio. Unlike req/s on a shared machine, the count repeats to within ~0.5% whatever else the machine does;
# it leaves out the kernel (socket calls) and cache misses, so it complements run_all.sh, not replaces it.
# The server under callgrind runs ~50x slower: users are prepared through a normal server on the same Redis
# prefix, then WARM requests, a dump, and N measured requests go to the instrumented one, 32 at a time.
# Needs Redis on 127.0.0.1:6379 (keys under hbbench, deleted afterwards). N=2000 by default; ~10 minutes.
# PATHS="cached venue" picks the plaintext paths; SAFE=0 leaves out the safe-mode rows. The 场所码 path (venue)
# is not in the default: its image is stamped to the minute, so its users are prepared at a minute's start and
# all its scans must fall in that minute (N=600 do, ~1 minute under callgrind); a run that crosses into the
# next minute re-renders every image and stops with a message. KEEP=DIR keeps callgrind's file of each row.
# WARM_PATH=cached warms each server with that path's requests instead of its own (e.g. images, then dialog).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
WARM=400
source bench/common.sh
need valgrind
config plain 8381 8380; config aes 8382 8380 "$AES"; config plain-cg 8385 8380; config aes-cg 8385 8380 "$AES"
$HB standin --config "$work/plain.toml" --port 8380 >"$work/standin.log" 2>&1 & pids+=($!)
export HB_STANDIN=http://127.0.0.1:8380  # where bench.signed_requests reads the claims' SMS codes
$HB serve --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!)
$HB serve --config "$work/aes.toml" >"$work/aes.log" 2>&1 & pids+=($!)
up http://127.0.0.1:8380/; up http://127.0.0.1:8381/healthz; up http://127.0.0.1:8382/healthz
SCENE=$(venue "$work/plain.toml")

count() {  # count LABEL PREPARE_PORT PATH [aes] -- COMMAND...: prints "LABEL instructions/request"
  local label=$1 prepare=$2 path=$3 aes=$4; shift 5
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$@" >"$work/cg.log" 2>&1 &
  local vg=$!
  up http://127.0.0.1:8385/healthz
  if [ "$path" = venue ]; then while [ $((10#$(date +%S))) -gt 5 ]; do sleep 0.5; done; fi
  local minute; minute=$(date +%H%M)
  $PY -m bench.signed_requests --url "http://127.0.0.1:$prepare/wechat" --path "$path" --out "$work/req.txt" \
    --count $((WARM + N)) --users 200 --tag "i$RANDOM" ${aes:+--aes-key $AES} --scene "$SCENE" >/dev/null
  if [ -n "${WARM_PATH:-}" ]; then  # the warm-up is another path's requests: does what it leaves cost later?
    $PY -m bench.signed_requests --url "http://127.0.0.1:$prepare/wechat" --path "$WARM_PATH" --out "$work/warm.txt" \
      --count "$WARM" --users 200 --tag "w$RANDOM" ${aes:+--aes-key $AES} --scene "$SCENE" >/dev/null
    tail -n "$N" "$work/req.txt" | cat "$work/warm.txt" - > "$work/mixed.txt" && mv "$work/mixed.txt" "$work/req.txt"
  fi
  refused=$($PY -m bench.callgrind_drive --url http://127.0.0.1:8385 --file "$work/req.txt" --warm $WARM --n "$N" \
    --pid $vg)
  kill $vg; wait $vg 2>/dev/null || true
  if [ "$path" = venue ] && [ "$(date +%H%M)" != "$minute" ]; then echo "$label: ran into the next minute" >&2; kill $$; fi
  total=$(cg_total "$work/cg.$vg.2")
  if [ -n "${KEEP:-}" ]; then cp "$work/cg.$vg.2" "$KEEP/cg.$label"; fi
  [ "$refused" = 0 ] || { echo "$label: $refused requests refused" >&2; kill $$; }
  echo "$label $((total / N))"
}
floor=$(count floor 8381 keyword "" -- $PY bench/floor.py --port 8385 | awk '{print $2}')
floor_aes=$(count floor-aes 8382 keyword aes -- $PY bench/floor.py --port 8385 --aes-key $AES | awk '{print $2}')
printf '%-58s %14s %7s\n' path "instr/request" ratio
row() { printf '%-58s %14d %7.2f\n' "$1" "$2" "$(echo "$3 / $2" | bc -l)"; }
row "floor (signature + parse + fixed reply)" "$floor" "$floor"
for path in ${PATHS:-keyword cached dialog}; do  # venue: see below
  label=$(case $path in keyword) echo "防疫健康信息码, new user";; cached) echo "防疫健康信息码, image cached";;
          dialog) echo "dialog step";; venue) echo "场所码 scan (entry + stamped image, cached)";; esac)
  row "$label" "$(count "$path" 8381 "$path" "" -- $HB serve --config "$work/plain-cg.toml" | awk '{print $2}')" "$floor"
done
[ "${SAFE:-1}" = 0 ] && exit 0
row "floor, safe mode (AES)" "$floor_aes" "$floor_aes"
row "防疫健康信息码, image cached, safe mode" \
  "$(count cached-aes 8382 cached aes -- $HB serve --config "$work/aes-cg.toml" | awk '{print $2}')" "$floor_aes"
