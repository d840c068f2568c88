# Shared by the benchmark scripts in this folder and tools/shutdown-check.sh (sourced, not run).

# start_telemetryd BUILD DATA_FOLDER PORT MAPPING: starts BUILD/telemetryd on 127.0.0.1:PORT
# with a data folder of its own, no monitoring endpoint (its fixed port would clash with other
# servers on a shared machine) and warnings-only logs, sets PID, and returns once the port
# accepts connections (10 s at the most).
start_telemetryd() {
  "$1/telemetryd" --data "$2" --listen 127.0.0.1 --port "$3" --http-port off --log-level warning --mapping "$4" &
  PID=$!
  for _ in $(seq 1 50); do
    (echo > /dev/tcp/127.0.0.1/"$3") 2>/dev/null && return 0
    sleep 0.2
  done
  echo "telemetryd did not listen on 127.0.0.1:$3 within 10 s" >&2
  return 1
}

# ensure_dataset DATA PEERS: writes the shared dataset into DATA unless it is there.
ensure_dataset() {
  if [ ! -f "$1/telemetry.lp" ]; then
    python3 "$2/gen_dataset.py" --out "$1"
  fi
}

# ensure_binaries ROOT: unless BIN names a folder of prebuilt release binaries, builds
# telemetryd and telemetry-load in release mode and sets BIN to ROOT/.build/release.
ensure_binaries() {
  if [ -z "${BIN:-}" ]; then
    (cd "$1" && swift build -c release --product telemetryd >&2 && swift build -c release --product telemetry-load >&2)
    BIN="$1/.build/release"
  fi
}
