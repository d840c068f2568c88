#!/usr/bin/env bash
# Ingest over TCP with the Navixy mapping active against the identity mapping, on the same
# records (docs/BENCHMARKS.md, "Ingest with mapping"). The shared dataset's records are sent
# as Navixy packets (telemetry-load --shape navixy: the same values under the names
# navixy.yaml reads). Each run starts a fresh telemetryd twice, alternating:
#   identity: --mapping identity (provider fields stored as they come, nothing else);
#   navixy:   the default Fleeti mapping (canonical fields, raw copy, per-vehicle state).
# Prints the medians and the median of the per-run ratios navixy / identity.
#
# Usage: tools/bench/mapping.sh [RUNS]
#   env: DATA=/tmp/peers-data OUT=/tmp/telemetry-mapping-bench PORT=7498 CONNECTIONS=4 WINDOW=4
#        BATCH=5000 LIMIT=<records, default all> BIN=<folder of prebuilt release binaries>
set -euo pipefail
RUNS=${1:-3}
DATA=${DATA:-/tmp/peers-data}
OUT=${OUT:-/tmp/telemetry-mapping-bench}
PORT=${PORT:-7498}
CONNECTIONS=${CONNECTIONS:-4}
WINDOW=${WINDOW:-4}
BATCH=${BATCH:-5000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
# shellcheck source=common.sh
. "$HERE/common.sh"
LIMIT_ARG=()
if [ -n "${LIMIT:-}" ]; then LIMIT_ARG=(--limit "$LIMIT"); fi

ensure_dataset "$DATA" "$PEERS"
mkdir -p "$OUT"
ensure_binaries "$ROOT"

: > "$OUT/mapping.jsonl"
for r in $(seq 1 "$RUNS"); do
  for mode in identity fleeti; do
    echo "run $r/$RUNS: $mode" >&2
    rm -rf "$OUT/db"
    start_telemetryd "$BIN" "$OUT/db" "$PORT" "$mode"
    "$BIN/telemetry-load" --port "$PORT" --data "$DATA" --connections "$CONNECTIONS" --window "$WINDOW" \
      --batch "$BATCH" --server-pid "$PID" --shape navixy --queries 1 "${LIMIT_ARG[@]}" \
      | python3 -c "import json,sys; o=json.load(sys.stdin); o['mode']='$mode'; o['run']=$r; print(json.dumps(o))" >> "$OUT/mapping.jsonl"
    kill -TERM "$PID"
    wait "$PID" || true
  done
done
rm -rf "$OUT/db"

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/mapping.jsonl") if l.strip()]
by = {m: [r for r in rows if r["mode"] == m] for m in ("identity", "fleeti")}
def fmt(v): return f"{statistics.median(v):,.0f} [{min(v):,.0f}-{max(v):,.0f}]"
ident = [r["ingest_rec_s"] for r in by["identity"]]
mapped = [r["ingest_rec_s"] for r in by["fleeti"]]
ratios = [f["ingest_rec_s"] / i["ingest_rec_s"] for i, f in zip(by["identity"], by["fleeti"])]
print("| figure | identity | navixy mapping |")
print("|---|---|---|")
print(f"| ingest over TCP with acks, records/s, median [min-max] | {fmt(ident)} | {fmt(mapped)} |")
bpr = lambda rs: [r["bytes_per_record"] for r in rs if r.get("bytes_per_record")]  # 0: not measured (no compaction in this run)
if bpr(by["identity"]) and bpr(by["fleeti"]):
    print(f"| bytes on disk per record | {statistics.median(bpr(by['identity'])):.1f} | {statistics.median(bpr(by['fleeti'])):.1f} |")
rss = lambda rs: [r["server_peak_rss_kib"] / 1024 for r in rs if r.get("server_peak_rss_kib") is not None]
if rss(by["identity"]) and rss(by["fleeti"]):
    print(f"| server peak RSS, MiB | {statistics.median(rss(by['identity'])):.0f} | {statistics.median(rss(by['fleeti'])):.0f} |")
for r in rows:
    if r["stored"] != r["records"]:
        print(f"WARNING: run {r['run']} {r['mode']}: {r['stored']} of {r['records']} records stored")
print(f"\nnavixy / identity, per run: {', '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f} (target 0.80)")
PY
