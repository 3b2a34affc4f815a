#!/usr/bin/env bash
# Parley, NoneBot2 and Koishi with the same keyword bot, driven by the same OneBot v11
# load generator (the `keyword_reply` bench, playing the implementation as a reverse
# WebSocket client): replies/s at full load, p50/p99 latency at half of it. Installs
# NoneBot2 (PyPI) and Koishi (npm) into a temporary folder; prints one table.
#
# Usage: adapters/onebot/benches/compare/run.sh
# Settings (passed to the generator): BENCH_EVENTS, BENCH_LATENCY_EVENTS, BENCH_WINDOW.
# COMPARE_DIR=<dir> reuses an install folder.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
work=${COMPARE_DIR:-$(mktemp -d -t parley-onebot-compare.XXXXXX)}
mkdir -p "$work"
echo "install folder: $work"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The generator (and Parley's own row).
cd "$repo"
gen=$(cargo bench -p parley-onebot --bench keyword_reply --no-run 2>&1 | grep -o 'target/release/deps/keyword_reply-[0-9a-f]*' | tail -1)
[ -n "$gen" ] || { echo "could not build the keyword_reply bench"; exit 1; }
gen="$repo/$gen"

rows=()
row() { rows+=("$1"); }

echo "== parley"
out=$("$gen" 2>&1 | tee >(cat >&2) | grep '^ROW ')
row "${out:-ROW parley failed - - -}"

# Drives a framework already listening: name, url, pid.
drive() {
  local name=$1 url=$2 pid=$3 out
  out=$(timeout 900 "$gen" --drive "$url" --name "$name" 2>&1 | tee >(cat >&2) | grep '^ROW ')
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ -n "$hwm" ] && echo "$name: peak RSS $((hwm / 1024)) MB"
  row "${out:-ROW $name failed - - -}"
}

echo "== nonebot2"
if [ ! -x "$work/nb/bin/python" ]; then
  python3 -m venv "$work/nb" && "$work/nb/bin/pip" install -q "nonebot2[fastapi]" nonebot-adapter-onebot \
    > "$work/nonebot-install.log" 2>&1 || { echo "NoneBot2 did not install: $(tail -1 "$work/nonebot-install.log")"; }
fi
if [ -x "$work/nb/bin/python" ]; then
  "$work/nb/bin/pip" show nonebot2 nonebot-adapter-onebot 2>/dev/null | grep -E '^(Name|Version)' | paste - - 
  port=$(free_port)
  PYTHONPATH="$here" "$work/nb/bin/python" "$here/nonebot_main.py" "$port" > "$work/nonebot.log" 2>&1 &
  drive nonebot2 "ws://127.0.0.1:$port/onebot/v11/ws" $!
else
  row "ROW nonebot2 not-installed - - -"
fi

echo "== koishi"
if [ ! -d "$work/koishi/node_modules/koishi" ]; then
  mkdir -p "$work/koishi" && (cd "$work/koishi" && npm init -y > /dev/null &&
    npm install --no-audit --no-fund koishi @koishijs/plugin-http @koishijs/plugin-server \
      koishi-plugin-adapter-onebot \
      > "$work/koishi-install.log" 2>&1) || echo "Koishi did not install: $(tail -1 "$work/koishi-install.log")"
fi
if [ -d "$work/koishi/node_modules/koishi" ]; then
  (cd "$work/koishi" && for p in koishi @koishijs/plugin-http @koishijs/plugin-server koishi-plugin-adapter-onebot; do
     echo "$p $(node -p "require('$p/package.json').version")"; done)
  cp "$here/koishi_main.js" "$work/koishi/"
  port=$(free_port)
  (cd "$work/koishi" && exec node koishi_main.js "$port") > "$work/koishi.log" 2>&1 &
  drive koishi "ws://127.0.0.1:$port/onebot" $!
else
  row "ROW koishi not-installed - - -"
fi

echo
printf '%-10s %12s %10s %10s %12s %16s\n' framework replies/s p50_ms p99_ms replies "parley_x_faster"
base=$(echo "${rows[0]}" | awk '{print $3}')
for r in "${rows[@]}"; do
  set -- $r
  ratio=-
  if [[ "$3" =~ ^[0-9]+$ && "$3" -gt 0 && "$base" =~ ^[0-9]+$ ]]; then
    ratio=$(awk -v a="$base" -v b="$3" 'BEGIN { printf "%.1f", a / b }')
  fi
  printf '%-10s %12s %10s %10s %12s %16s\n' "$2" "$3" "$4" "$5" "$6" "$ratio"
done
echo "logs: $work/*.log"
