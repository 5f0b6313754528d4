#!/usr/bin/env bash
# ./run.sh --cluster N [host settings...]: a local cluster on loopback for trying the scale-out shape on one machine —
# a throw-away PostgreSQL (Debian's postgresql, run as the postgres user in a temporary folder), N silos (the first
# also `inference`, and the one that seeds the shop when the store is empty) and one gateway, all on PostgreSQL storage and
# membership. Prints the gateway's address (./seg talks to it unchanged); Ctrl+C stops everything and removes the folder.
# Logs: <folder>/silo<i>.log, gateway.log, postgres.log. Host settings after N go to every process.
# The same per-process settings start the benchmark's cluster (bench/Segmentation.Bench/Target/LocalCluster.cs, used by
# `bench/run.sh --only failover|cluster`): change them in both places.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
silos=${1:?usage: run.sh --cluster N [host settings...]}; shift
[[ "$silos" =~ ^[1-9][0-9]?$ ]] || { echo "run.sh --cluster: N must be 1 to 99 silos, got '$silos'" >&2; exit 2; }

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "local cluster: installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

dotnet build src/Segmentation.Host -c Release -nologo -v quiet
dotnet build src/Segmentation.Cli -c Release -nologo -v quiet
host=src/Segmentation.Host/bin/Release/net10.0/Segmentation.Host.dll

root=$(mktemp -d /tmp/segmentation-cluster.XXXXXX)
chmod 755 "$root"
pids=()
pg() { # runs a PostgreSQL tool as the postgres user when we are root (the server refuses to run as root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop() {
  trap - EXIT INT TERM
  echo; echo "local cluster: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg "$pgbin/pg_ctl" stop -D "$root/pgdata" -m fast -w >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap stop EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
mkdir -p "$root/pgdata"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$root/pgdata"
pg "$pgbin/initdb" -D "$root/pgdata" -U postgres --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
touch "$root/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$root/postgres.log"
pg "$pgbin/pg_ctl" start -D "$root/pgdata" -l "$root/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$pgport -c unix_socket_directories=$root/pgdata -c max_connections=500" >/dev/null
pg "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qc 'CREATE DATABASE segmentation' >/dev/null
echo "local cluster: PostgreSQL on 127.0.0.1:$pgport (data in $root/pgdata)"

# Every process; LocalCluster.Common() in the bench lists the same.
common=(
  --Segmentation:Storage:Provider=postgres
  "--Segmentation:Storage:ConnectionString=Host=127.0.0.1;Port=$pgport;Username=postgres;Database=segmentation"
  --Segmentation:Cluster:Membership=postgres
  --Segmentation:Cluster:ClusterId=local
  # Model folders: written by the inference silo, whose item numbering the other processes read to encode a user's
  # inputs before they ask it for her embedding.
  --Segmentation:Embeddings:ModelsDirectory="$root/models"
)

start() { # name, args...: starts one process, waits until it serves (or died)
  local name=$1; shift
  dotnet "$host" "${common[@]}" "$@" > "$root/$name.log" 2>&1 &
  pids+=($!)
  local pid=$!
  until grep -q "Serving gRPC" "$root/$name.log"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "local cluster: $name did not start:" >&2; tail -20 "$root/$name.log" >&2; exit 1; fi
    sleep 0.5
  done
  echo "local cluster: $name ($*) serving on $(sed -n 's/^Serving gRPC (h2c) on \(http[^ ]*[0-9/]\)\.* .*/\1/p' "$root/$name.log" | head -1)"
}

for i in $(seq 1 "$silos"); do
  roles=silo; seed=false
  if [ "$i" = 1 ]; then roles=silo,inference; seed=true; fi
  start "silo$i" --Segmentation:Roles=$roles --Segmentation:SeedWhenEmpty=$seed --Segmentation:DataDirectory="$root/silo$i" \
    --Segmentation:Listen=127.0.0.1:0 "$@"
done
start gateway --Segmentation:Roles=gateway --Segmentation:DataDirectory="$root/gateway" --Segmentation:Listen=127.0.0.1:5000 "$@"
grep -A20 "Seeded a synthetic shop" "$root/silo1.log" | grep -v "^Serving" || true
echo "local cluster: $silos silos + 1 gateway; the gateway serves gRPC on 127.0.0.1:5000 (./seg works against it). Logs in $root. Ctrl+C stops."
wait -n "${pids[@]}" || true
echo "local cluster: a process exited; see the logs in $root" >&2
