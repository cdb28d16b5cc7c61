#!/usr/bin/env bash
# The web server under load while the agents run: `ferros start` (release
# build, simulated observatory, SQLite) on a fresh data directory, then wrk
# (Debian `wrk`) against the public status API and the home page, then the
# same two addresses with a logged-in bearer token.
#
# Usage: bench/web_load.sh [SECONDS per run, default 15] [CONNECTIONS, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
conns=${2:-32}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
cargo build --release -q
data=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
./target/release/ferros start --data-dir "$data" --bind "127.0.0.1:$port" >"$data/start.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.5
done
base="http://127.0.0.1:$port"
# Let the agents write their first synthesis, majordome state and devices.
for _ in $(seq 1 60); do
    curl -fsS "$base/api/v1/status" | grep -q '"majordome":{' && break
    sleep 0.5
done
echo "Ferros $(./target/release/ferros --version | cut -d' ' -f2) at $base, agents running; $(nproc) cores; wrk $seconds s, $conns connections, 2 threads"
for path in /api/v1/status /; do
    echo
    echo "== GET $path"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency "$base$path" | grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors"
done
