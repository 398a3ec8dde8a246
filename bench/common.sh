# Sourced by the benchmark scripts: paths, a scratch directory and its cleanup, bench configs, waiting.
# Every bench server uses Redis on 127.0.0.1:6379 under the prefix hbbench, deleted on exit.
PY=.venv/bin/python
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$1" >/dev/null; }; }  # need TOOL: install if missing
HB=.venv/bin/healthbot
AES=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
KEYS=$($HB keygen)  # one set for every server of a run, so each can read what another wrote
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  redis-cli --scan --pattern 'hbbench:*' | xargs -r -n 1000 redis-cli del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

config() {  # config NAME PORT API_PORT [AES]: $work/NAME.toml for a server on PORT, the WeChat API on API_PORT
  cat > "$work/$1.toml" <<TOML
[wechat]
token = "bench-token"
app_id = "wx2c2769f8efd9abc2"
app_secret = "bench-secret"
encoding_aes_key = "${4:-}"
api_base = "http://127.0.0.1:$3"
[redis]
url = "redis://127.0.0.1:6379/0"
prefix = "hbbench"
[server]
port = $2
[render]
image_cache_seconds = 1800  # as long as the QR resolves (the most start-up accepts): no re-render mid-run
[limits]
messages_burst = 1000000
[upstreams]
allow_standins = ["identity", "face", "sms"]  # a benchmark on one machine has no real upstreams
[security]
$KEYS
TOML
}

cg_total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }  # cg_total FILE: instructions in a callgrind dump

cpu_ticks() {  # cpu_ticks PID: CPU clock ticks (user + system) of a process and its children (workers)
  local total=0 p
  for p in $1 $(pgrep -P "$1"); do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo $total
}
redis_cpu() { redis-cli info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }  # Redis's CPU seconds

# Any HTTP answer will do (the floor has no /healthz): curl without -f fails only when nothing answers.
up() { for _ in $(seq 1 3000); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }

venue() {  # venue CONFIG: a 场所码 made through the stand-in WeChat API, its scene on stdout
  $HB admin venue add "基准测试场所" --out "$work" --config "$1" | awk '/^venue / {print $2}'
}

gen() {  # gen PORT PATH NAME [aes]: $work/NAME.txt, fresh requests enough for 25,000 a second of DURATION
  # A 场所码 reply is stamped to the minute: prepared and measured in one minute, the row measures the scan
  # with its image cached, as it says; a minute boundary inside would re-render every user's code at once.
  if [ "$2" = venue ]; then while [ $((10#$(date +%S))) -gt 5 ]; do sleep 0.5; done; fi
  $PY -m bench.signed_requests --url "http://127.0.0.1:$1/wechat" --path "$2" --out "$work/$3.txt" \
    ${4:+--aes-key $AES} --tag "$3$RANDOM" --count $((DURATION * 25000)) ${SCENE:+--scene $SCENE} >/dev/null
}

fresh_wrk() {  # fresh_wrk PORT NAME: wrk's report for $work/NAME.txt; a run that runs out of it stops the script
  local out
  out=$(wrk -t"${WRK_THREADS:-1}" -c32 -d"${DURATION}s" --latency -s bench/replay.lua "http://127.0.0.1:$1/wechat" \
    -- "$work/$2.txt" "${WRK_THREADS:-1}")
  if grep -q "REQUESTS EXHAUSTED" <<<"$out"; then echo "$2: ran out of fresh requests" >&2; kill $$; fi
  printf '%s\n' "$out"
}
