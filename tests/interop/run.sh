#!/usr/bin/env bash
# Interop suite: a live server (the built host) driven by Python grpcio, a gRPC implementation nobody here wrote.
# Stubs are generated from our protos by Debian's python3-grpc-tools. Last line: "interop: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py=/usr/bin/python3
host_dll="$root/src/Segmentation.Host/bin/Release/net10.0/Segmentation.Host.dll"
[ -f "$host_dll" ] || { echo "interop: host not built ($host_dll); run dotnet build -c Release"; echo "interop: 0 passed, 1 failed"; exit 1; }

work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$work"' EXIT
gen="$work/gen"; mkdir -p "$gen"
grpc_tools_proto=$($py -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
# The standard protos go under "stdgrpc/" so their Python modules do not collide with the grpc package itself
# (module paths follow file paths; the proto packages, and so the wire names, stay grpc.health.v1 etc.).
mkdir -p "$work/protos/stdgrpc" && cp -r "$root/protos/segmentation" "$work/protos/" && cp -r "$root/protos/grpc/." "$work/protos/stdgrpc/"
# google/api/annotations.proto and http.proto (the HTTP/JSON routes) from the restored Google.Api.CommonProtos package.
nuget_root=${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')}
google_api_proto=$(ls -d "$nuget_root"/google.api.commonprotos/*/content/protos | sort -V | tail -1)
(cd "$work/protos" && $py -m grpc_tools.protoc -I . -I "$grpc_tools_proto" -I "$google_api_proto" --python_out="$gen" --grpc_python_out="$gen" \
  "$google_api_proto/google/api/annotations.proto" "$google_api_proto/google/api/http.proto" \
  segmentation/v1/events.proto segmentation/v1/profiles.proto segmentation/v1/segments.proto segmentation/v1/experiments.proto segmentation/v1/recommendations.proto segmentation/v1/privacy.proto \
  stdgrpc/health/v1/health.proto stdgrpc/reflection/v1/reflection.proto stdgrpc/reflection/v1alpha/reflection.proto) \
  || { echo "interop: 0 passed, 1 failed"; exit 1; }

# Keys required: the server gets a bootstrap key (Segmentation:Auth:BootstrapKey), the suite sends it.
api_key=$($py -c 'import secrets; print(secrets.token_hex(24))')
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
dotnet "$host_dll" --Segmentation:DataDirectory="$work/data" --Segmentation:Listen=127.0.0.1:$port \
  --Segmentation:Auth:BootstrapKey="$api_key" \
  --Logging:LogLevel:Default=Warning > "$work/server.log" 2>&1 &
server_pid=$!

# The generated code is from protoc 3.5; Debian's protobuf runtime accepts it in its pure-Python implementation.
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python PYTHONPATH="$gen" SEGMENTATION_ADDRESS="127.0.0.1:$port" SEGMENTATION_API_KEY="$api_key" \
  $py "$root/tests/interop/test_interop.py"
rc=$?
if [ $rc -ne 0 ]; then echo "--- server log"; tail -50 "$work/server.log"; fi
exit $rc
