#!/usr/bin/env bash
# SIGTERM under load, as a service manager sends it: RUNS times, a fresh telemetryd (release
# build, own data folder, 127.0.0.1) takes an ingest burst from telemetry-load (identity and
# the Navixy mapping alternately) and gets SIGTERM at a random moment of it. Each run must
# exit with status 0 within LIMIT seconds. A server still running then has every thread's
# stack written to OUT/hang-N.txt (gdb, when installed) before it is killed; the script
# exits 1 if any run hung or failed. The in-process counterpart, which also checks that every
# acknowledged record is there after the reopen, is ServerIntegrationTests.gracefulShutdown.
#
# Usage: tools/shutdown-check.sh [RUNS]
#   env: DATA=/tmp/peers-data OUT=/tmp/telemetry-shutdown-check PORT=7495 LIMIT=20
#        RECORDS=300000 BIN=<folder of prebuilt release binaries>
set -euo pipefail
RUNS=${1:-10}
DATA=${DATA:-/tmp/peers-data}
OUT=${OUT:-/tmp/telemetry-shutdown-check}
PORT=${PORT:-7495}
LIMIT=${LIMIT:-20}
RECORDS=${RECORDS:-300000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
# shellcheck source=bench/common.sh
. "$HERE/bench/common.sh"

ensure_dataset "$DATA" "$PEERS"
mkdir -p "$OUT"
ensure_binaries "$ROOT"

bad=0
for r in $(seq 1 "$RUNS"); do
  mapping=identity
  shape=()
  if [ $((r % 2)) -eq 0 ]; then mapping=fleeti; shape=(--shape navixy); fi
  rm -rf "$OUT/db"
  "$BIN/telemetryd" --data "$OUT/db" --listen 127.0.0.1 --port "$PORT" --http-port off --mapping "$mapping" \
    > "$OUT/server-$r.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    (echo > /dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
    sleep 0.2
  done
  "$BIN/telemetry-load" --port "$PORT" --data "$DATA" --connections 4 --window 4 --batch 5000 \
    --limit "$RECORDS" --queries 1 "${shape[@]}" > /dev/null 2> "$OUT/load-$r.log" &
  load=$!
  # The load generator parses the file before it connects its burst: the signal goes once it
  # says so, at a random moment of the burst (300,000 records take about 1 s with identity and
  # 4 s with the Navixy mapping), so most runs stop a server with batches in flight.
  window=0.7
  if [ "$mapping" = fleeti ]; then window=3.0; fi
  for _ in $(seq 1 600); do
    grep -q "parsed and encoded" "$OUT/load-$r.log" 2> /dev/null && break
    sleep 0.05
  done
  sleep "$(python3 -c "import random; print(round(random.uniform(0.0, $window), 2))")"
  started=$(date +%s.%N)
  kill -TERM "$pid"
  exited=0
  for _ in $(seq 1 $((LIMIT * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then exited=1; break; fi
    sleep 0.1
  done
  if [ "$exited" = 1 ]; then
    status=0
    wait "$pid" || status=$?
    took=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
    # The load generator is told UNAVAILABLE (14) for batches sent once shutdown began.
    during=""
    if grep -q "status 14" "$OUT/load-$r.log" 2> /dev/null; then during=", during the burst"; fi
    echo "run $r ($mapping): exit status $status after ${took} s$during"
    if [ "$status" != 0 ]; then bad=1; fi
  else
    echo "run $r ($mapping): still running ${LIMIT} s after SIGTERM; stacks in $OUT/hang-$r.txt"
    if command -v gdb > /dev/null; then
      gdb -p "$pid" -batch -ex "thread apply all bt" > "$OUT/hang-$r.txt" 2>&1 || true
    fi
    kill -KILL "$pid" || true
    wait "$pid" || true
    bad=1
  fi
  kill "$load" 2> /dev/null || true
  wait "$load" 2> /dev/null || true
done
rm -rf "$OUT/db"
exit "$bad"
