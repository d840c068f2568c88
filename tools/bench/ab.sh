#!/usr/bin/env bash
# Ingest A/B: two builds of telemetryd on the same ingest, alternating, so that a change can be
# told from this machine's drift (docs/BENCHMARKS.md). For each of RUNS rounds and each build
# folder: a fresh telemetryd on a fresh data folder, then telemetry-load (the shared dataset,
# parsed and encoded before the clock starts, CONNECTIONS x WINDOW batches of BATCH records in
# flight, no query phase). Per run it records the ingest rate, the server's CPU seconds
# (user + system, /proc/PID/stat, read after the last ack) and the bytes LevelDB's
# compactions wrote (its LOG); then prints the medians per build and the per-round ratios.
#
# Usage: tools/bench/ab.sh RUNS BUILD_A BUILD_B [BUILD...]
#   BUILD: a folder holding a release telemetryd (e.g. a copy of .build/release).
#   env: DATA=/tmp/peers-data OUT=/tmp/telemetry-ab PORT=7497 CONNECTIONS=4 WINDOW=4 BATCH=5000
#        MAPPING=identity SHAPE=<telemetry-load --shape, e.g. navixy> LIMIT=<records>
#        LOAD=<telemetry-load binary; default: the first build's, else .build/release>
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: tools/bench/ab.sh RUNS BUILD_A BUILD_B [BUILD...]" >&2
  exit 2
fi
RUNS=$1
shift
DATA=${DATA:-/tmp/peers-data}
OUT=${OUT:-/tmp/telemetry-ab}
PORT=${PORT:-7497}
CONNECTIONS=${CONNECTIONS:-4}
WINDOW=${WINDOW:-4}
BATCH=${BATCH:-5000}
MAPPING=${MAPPING:-identity}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
# shellcheck source=common.sh
. "$HERE/common.sh"
LOAD=${LOAD:-}
if [ -z "$LOAD" ]; then
  if [ -x "$1/telemetry-load" ]; then LOAD="$1/telemetry-load"; else LOAD="$ROOT/.build/release/telemetry-load"; fi
fi
for b in "$@"; do
  [ -x "$b/telemetryd" ] || { echo "ab.sh: $b/telemetryd is not an executable" >&2; exit 2; }
done
[ -x "$LOAD" ] || { echo "ab.sh: no telemetry-load at $LOAD (swift build -c release --product telemetry-load)" >&2; exit 2; }
EXTRA=()
if [ -n "${SHAPE:-}" ]; then EXTRA+=(--shape "$SHAPE"); fi
if [ -n "${LIMIT:-}" ]; then EXTRA+=(--limit "$LIMIT"); fi

ensure_dataset "$DATA" "$PEERS"
mkdir -p "$OUT"
: > "$OUT/ab.jsonl"
for r in $(seq 1 "$RUNS"); do
  for b in "$@"; do
    rm -rf "$OUT/db"
    start_telemetryd "$b" "$OUT/db" "$PORT" "$MAPPING"
    RESULT=$("$LOAD" --port "$PORT" --data "$DATA" --connections "$CONNECTIONS" --window "$WINDOW" \
      --batch "$BATCH" --server-pid "$PID" --queries 1 "${EXTRA[@]}")
    # Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
    CPU=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$PID/stat")
    COMPACTED=$(awk '/Compacted/ {s += $(NF-1)} END {print s + 0}' "$OUT/db/LOG")
    kill -TERM "$PID"
    wait "$PID" || true
    echo "$RESULT" | python3 -c "
import json, sys
o = json.load(sys.stdin)
print(json.dumps({'build': '$b', 'round': $r, 'ingest_rec_s': o['ingest_rec_s'], 'stored': o['stored_records'],
                  'server_cpu_s': $CPU, 'compacted_bytes': $COMPACTED}))" | tee -a "$OUT/ab.jsonl" >&2
  done
done
rm -rf "$OUT/db"

python3 - "$OUT" "$@" <<'PY'
import json, statistics, sys
out, builds = sys.argv[1], sys.argv[2:]
rows = [json.loads(l) for l in open(f"{out}/ab.jsonl") if l.strip()]
def med(b, k): return statistics.median(r[k] for r in rows if r["build"] == b)
def span(b, k):
    v = [r[k] for r in rows if r["build"] == b]
    return f"{statistics.median(v):,.0f} [{min(v):,.0f}-{max(v):,.0f}]"
print("| build | ingest records/s, median [min-max] | server CPU s, median | compacted MB, median |")
print("|---|---|---|---|")
for b in builds:
    print(f"| {b} | {span(b, 'ingest_rec_s')} | {med(b, 'server_cpu_s'):.2f} | {med(b, 'compacted_bytes') / 1e6:.0f} |")
base = builds[0]
for b in builds[1:]:
    ratios = []
    for r in sorted({x["round"] for x in rows}):
        a = [x for x in rows if x["round"] == r and x["build"] == base]
        c = [x for x in rows if x["round"] == r and x["build"] == b]
        if a and c: ratios.append(c[0]["ingest_rec_s"] / a[0]["ingest_rec_s"])
    faster = sum(1 for x in ratios if x > 1)
    print(f"\n{b} / {base}, ingest per round: " + ", ".join(f"{x:.2f}" for x in ratios)
          + f"; median {statistics.median(ratios):.2f}, faster in {faster} of {len(ratios)}")
PY
