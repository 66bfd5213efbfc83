#!/usr/bin/env bash
# PutItem/GetItem over HTTP keep-alive: keystoned (durable, sync: full) and
# dynalite (in memory, --createTableMs 0) in one run, same generator
# (build/bench/http_bench), 64 connections, ~200-byte items. Prints RESULT
# lines including the keystone/dynalite throughput ratios. For reference it
# also measures keystoned with sync: nosync (keystone_nosync), which shows the
# HTTP path without the fsync bound, and http_ceiling_server (ceiling), a server
# that does no work at all: its rate is the most any server can reach on this
# machine with this generator, so its ratio to dynalite is the highest ratio
# the machine allows. Each server's CPU per operation (from /proc) is printed
# too: on a shared machine it moves much less between runs than the rates.
# The targets take turns for three rounds (--rounds 3; pass --rounds N to
# change it) and the RESULT lines give the medians, the ratios being the
# median of the per-round ratios.
#
#   bench/http_bench.sh [http_bench options, e.g. --seconds 10]
#
# dynalite is installed with npm into ${KEYSTONE_BENCH_CACHE:-~/.cache/keystone-bench}
# (never into the source tree). keystoned keeps its data under build/ (a real
# disk, so that sync: full means fsync).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="${KEYSTONE_BUILD_DIR:-$root/build}"
cache="${KEYSTONE_BENCH_CACHE:-$HOME/.cache/keystone-bench}"

if [ ! -x "$build/bench/http_bench" ] || [ ! -x "$build/bench/http_ceiling_server" ] ||
   [ ! -x "$build/daemon/keystoned" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$build" http_bench http_ceiling_server keystoned
fi
if [ ! -x "$cache/node_modules/.bin/dynalite" ]; then
  mkdir -p "$cache"
  echo "http_bench.sh: installing dynalite into $cache" >&2
  npm install --prefix "$cache" --no-audit --no-fund --loglevel=error dynalite@3 >&2
fi

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

work="$(mktemp -d "$build/http_bench.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start_keystoned() {  # NAME SYNC -> sets port_NAME
  local name="$1" sync="$2" port metrics
  port="$(free_port)"
  metrics="$(free_port)"
  mkdir -p "$work/$name"
  cat > "$work/$name/keystoned.yaml" <<YAML
data_dir: $work/$name/data
sync: $sync
http:
  listen: 127.0.0.1:$port
  # Defaults otherwise: one event loop per CPU (worker_threads caps them),
  # and writes of all connections share group commits.
metrics: {listen: 127.0.0.1:$metrics}
logging: {level: warn}
YAML
  "$build/daemon/keystoned" --config "$work/$name/keystoned.yaml" 2> "$work/$name/log" &
  pids+=($!)
  printf -v "port_$name" '%s' "$port"
  printf -v "pid_$name" '%s' "$!"
}
start_keystoned keystone full
start_keystoned keystone_nosync nosync

dl_port="$(free_port)"
node "$cache/node_modules/dynalite/cli.js" --port "$dl_port" --createTableMs 0 \
  --deleteTableMs 0 > "$work/dynalite.log" 2>&1 &
pids+=($!)
pid_dynalite=$!

ceiling_port="$(free_port)"
"$build/bench/http_ceiling_server" --port "$ceiling_port" &
pids+=($!)
pid_ceiling=$!

echo "keystoned $("$build/daemon/keystoned" --version | cut -d' ' -f2) (sync: full, data on" \
     "$(df -T "$work" | awk 'NR==2 {print $2}')), dynalite $(node -p \
     "require('$cache/node_modules/dynalite/package.json').version") (in memory)," \
     "node $(node --version), $(nproc) CPUs"
"$build/bench/http_bench" --target "keystone=127.0.0.1:$port_keystone" \
  --target "keystone_nosync=127.0.0.1:$port_keystone_nosync" \
  --target "dynalite=127.0.0.1:$dl_port" --target "ceiling=127.0.0.1:$ceiling_port" \
  --server-pid "keystone=$pid_keystone" --server-pid "keystone_nosync=$pid_keystone_nosync" \
  --server-pid "dynalite=$pid_dynalite" --server-pid "ceiling=$pid_ceiling" \
  --baseline dynalite --rounds 3 "$@"
