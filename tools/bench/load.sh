#!/usr/bin/env bash
# Ingest and query benchmark over TCP beside VictoriaMetrics, in the same run
# (docs/BENCHMARKS.md).
#
# For each of RUNS runs: a fresh telemetryd (release build, fresh data folder, 127.0.0.1)
# loaded by tools/load (the shared dataset's line-protocol file, parsed and encoded before
# the clock starts; CONNECTIONS connections x WINDOW batches of BATCH records in flight),
# then compaction and the query set; then one VictoriaMetrics run of
# ../shared/bench/peers/peers_bench.py. Prints the medians of both.
#
# Usage: tools/bench/load.sh [RUNS]
#   env: DATA=/tmp/peers-data OUT=/tmp/telemetry-bench PORT=7499 CONNECTIONS=4 WINDOW=4 BATCH=5000
#        PEERS=../shared/bench/peers  SKIP_PEER=1 (ours only)  BIN=<folder of prebuilt release binaries>
set -euo pipefail
RUNS=${1:-3}
DATA=${DATA:-/tmp/peers-data}
OUT=${OUT:-/tmp/telemetry-bench}
PORT=${PORT:-7499}
CONNECTIONS=${CONNECTIONS:-4}
WINDOW=${WINDOW:-4}
BATCH=${BATCH:-5000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
# shellcheck source=common.sh
. "$HERE/common.sh"

ensure_dataset "$DATA" "$PEERS"
if [ -z "${SKIP_PEER:-}" ] && ! command -v victoria-metrics >/dev/null; then
  apt-get update -qq && apt-get install -y -qq victoria-metrics
fi
mkdir -p "$OUT"
ensure_binaries "$ROOT"

: > "$OUT/load.jsonl"
for r in $(seq 1 "$RUNS"); do
  echo "run $r/$RUNS: telemetryd" >&2
  rm -rf "$OUT/load-db"
  # The identity mapping: the records are stored as they come, as the peers store them. No
  # monitoring endpoint: its fixed port would clash with other servers on a shared machine.
  start_telemetryd "$BIN" "$OUT/load-db" "$PORT" identity
  "$BIN/telemetry-load" --port "$PORT" --data "$DATA" --connections "$CONNECTIONS" --window "$WINDOW" \
    --batch "$BATCH" --server-pid "$PID" --compact >> "$OUT/load.jsonl"
  kill -TERM "$PID"
  wait "$PID" || true
  if [ -z "${SKIP_PEER:-}" ]; then
    echo "run $r/$RUNS: VictoriaMetrics" >&2
    python3 "$PEERS/peers_bench.py" --systems vm --runs 1 --start-run "$r" --out "$OUT" --data "$DATA" >&2
  fi
done
rm -rf "$OUT/load-db"

python3 - "$OUT" "$RUNS" <<'PY'
import glob, json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
ours = [json.loads(l) for l in open(f"{out}/load.jsonl") if l.strip()]
vm = []
for r in range(1, runs + 1):
    try:
        vm.append(json.load(open(f"{out}/vm-run{r}.json")))
    except FileNotFoundError:
        pass
def med(vals, p=2):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a", None
    m = statistics.median(vals)
    return f"{m:,.{p}f} [{min(vals):,.{p}f}-{max(vals):,.{p}f}]", m
rows = [
    ("ingest over TCP with acks, records/s", [o["ingest_rec_s"] for o in ours], [v["ingest"]["rec_s"] for v in vm], 0),
    ("bytes on disk per record", [o.get("bytes_per_record") for o in ours], [v.get("bytes_per_record_alloc") for v in vm], 2),
    ("one vehicle, 1-hour range, median ms", [o["range_median_ms"] for o in ours], [v["queries"]["range"]["median_ms"] for v in vm], 3),
    ("latest, median ms", [o["latest_median_ms"] for o in ours], [v["queries"]["latest"]["median_ms"] for v in vm], 3),
    ("latest, p99 ms", [o["latest_p99_ms"] for o in ours], [v["queries"]["latest"]["p99_ms"] for v in vm], 3),
    ("1-min average speed, whole range, median ms", [o["downsample_median_ms"] for o in ours], [v["queries"]["downsample"]["median_ms"] for v in vm], 3),
    ("server peak RSS, MiB", [o.get("server_peak_rss_kib", 0) / 1024 for o in ours], [v["peak_rss_kb"] / 1024 for v in vm], 0),
]
print(f"runs: {len(ours)} telemetryd, {len(vm)} VictoriaMetrics (median [min-max])")
print("| figure | telemetryd | VictoriaMetrics | ratio |")
print("|---|---|---|---|")
for name, a, b, p in rows:
    fa, ma = med(a, p)
    fb, mb = med(b, p)
    ratio = f"{ma / mb:.2f}x" if ma is not None and mb else ""
    print(f"| {name} | {fa} | {fb} | {ratio} |")
PY
