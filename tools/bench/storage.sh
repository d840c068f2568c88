#!/usr/bin/env bash
# Storage-layer benchmark beside raw LevelDB, in the same run (docs/BENCHMARKS.md).
#
# Alternates TelemetryStore (tools/storage-bench, in process) and the raw LevelDB C
# benchmark (../shared/bench/peers/ldb_bench.c, main configuration: arrival order,
# sync=false, queries) RUNS times on the shared 2M-record dataset, then prints medians.
#
# Usage: tools/bench/storage.sh [RUNS]
#   env: DATA=/tmp/peers-data OUT=/tmp/telemetry-bench SCRATCH=.build (SwiftPM scratch path,
#        relative to the package root, so a build of its own does not disturb other builds)
#        BENCH_ARGS="--writers 2" (extra arguments for telemetry-storage-bench)
set -euo pipefail
RUNS=${1:-3}
DATA=${DATA:-/tmp/peers-data}
OUT=${OUT:-/tmp/telemetry-bench}
SCRATCH=${SCRATCH:-.build}
BENCH_ARGS=${BENCH_ARGS:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/bench/peers}

[ -f "$PEERS/ldb_bench.c" ] || { echo "storage.sh: $PEERS/ldb_bench.c not found (set PEERS)" >&2; exit 2; }
if [ ! -f "$DATA/telemetry.bin" ]; then
  echo "storage.sh: generating the dataset in $DATA" >&2
  python3 "$PEERS/gen_dataset.py" --out "$DATA"
fi
mkdir -p "$OUT"
gcc -O2 -Wall -o "$OUT/ldb_bench" "$PEERS/ldb_bench.c" -lleveldb
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product telemetry-storage-bench >&2)
case "$SCRATCH" in /*) BUILD_DIR=$SCRATCH ;; *) BUILD_DIR=$ROOT/$SCRATCH ;; esac
BENCH="$BUILD_DIR/release/telemetry-storage-bench"

: > "$OUT/storage.jsonl"
: > "$OUT/leveldb.jsonl"
for r in $(seq 1 "$RUNS"); do
  echo "run $r/$RUNS: TelemetryStore" >&2
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of words on purpose
  "$BENCH" --data "$DATA" --db "$OUT/store-db" $BENCH_ARGS | tail -n 1 >> "$OUT/storage.jsonl"
  echo "run $r/$RUNS: raw LevelDB" >&2
  "$OUT/ldb_bench" --data "$DATA" --db "$OUT/ldb-db" --order time --sync 0 --queries 1 >> "$OUT/leveldb.jsonl"
done
rm -rf "$OUT/store-db" "$OUT/ldb-db"

python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
ours = [json.loads(l) for l in open(f"{out}/storage.jsonl") if l.strip()]
ldb = [json.loads(l) for l in open(f"{out}/leveldb.jsonl") if l.strip()]
for r in ldb:  # ldb_bench reports latest in microseconds and RSS as peak_rss_kb
    for k in ("median", "p99"):
        if f"latest_{k}_us" in r: r[f"latest_{k}_ms"] = r[f"latest_{k}_us"] / 1000
    if "peak_rss_kb" in r: r["peak_rss_kib"] = r["peak_rss_kb"]
def med(rows, *keys):
    for k in keys:
        vals = [r[k] for r in rows if k in r]
        if vals:
            return statistics.median(vals), min(vals), max(vals)
    return None
def fmt(t, p=2):
    return "n/a" if t is None else f"{t[0]:,.{p}f} [{t[1]:,.{p}f}-{t[2]:,.{p}f}]"
writers = sorted({r.get("writers", 1) for r in ours})
print(f"runs: {len(ours)} TelemetryStore (writers: {', '.join(map(str, writers))}), {len(ldb)} raw LevelDB (median [min-max])")
print("| figure | TelemetryStore | raw LevelDB | ratio |")
print("|---|---|---|---|")
rows = [
  ("ingest, records/s", ("ingest_rec_s",), ("ingest_rec_s",), 0),
  ("bytes on disk per record (after compaction)", ("bytes_per_record",), ("bytes_per_record",), 2),
  ("one vehicle, 1-hour range, median ms", ("range_median_ms",), ("range_median_ms",), 3),
  ("latest, median ms", ("latest_median_ms",), ("latest_median_ms",), 4),
  ("latest, p99 ms", ("latest_p99_ms",), ("latest_p99_ms",), 4),
  ("1-min average speed, whole range, median ms", ("downsample_median_ms",), ("downsample_median_ms",), 3),
  ("peak RSS, MiB", ("peak_rss_kib",), ("peak_rss_kib",), 0),
  ("seal (all partitions), s", ("seal_s",), (), 2),
  ("compaction, s", ("compact_s",), ("compact_s",), 2),
]
for name, ok, lk, p in rows:
    a, b = med(ours, *ok), med(ldb, *lk)
    if name.startswith("peak"):
        a = a and tuple(x / 1024 for x in a); b = b and tuple(x / 1024 for x in b)
    ratio = "" if a is None or b is None or b[0] == 0 else f"{a[0] / b[0]:.2f}x"
    print(f"| {name} | {fmt(a, p)} | {fmt(b, p)} | {ratio} |")
PY
