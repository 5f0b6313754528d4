#!/usr/bin/env bash
# Fetches the ONNX Runtime 1.30.0 native library (CPU build, linux-x64) into .ort/ (git-ignored).
# Microsoft.ML.OnnxRuntime is not in our NuGet feed (DESIGN.md section 1), but the same native library ships inside
# the npm package onnxruntime-node. We `npm pack` it, check the tarball against the registry's pinned sha512
# integrity, and extract only bin/napi-v6/linux/x64/libonnxruntime.so.1. Idempotent: a no-op when the file is there.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly version=1.30.0
# `npm view onnxruntime-node@1.30.0 dist.integrity`
readonly integrity='sha512-twhs1C2C/BFkz1yc5OY0KIU2GUq6DURO7hD4bx5Q2Qy3nAMJwRXW8xU3NVczE29VA9lolLOYepoD8fjTGOfIqw=='
readonly member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
readonly dest=.ort/libonnxruntime.so.1

if [ -s "$dest" ]; then exit 0; fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "fetch-onnxruntime: only linux-x64 is supported here; set SEGMENTATION_ORT_LIB to a libonnxruntime 1.30 of your own" >&2
  exit 1
fi
command -v npm >/dev/null 2>&1 || { echo "fetch-onnxruntime: npm is required" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-onnxruntime: npm pack onnxruntime-node@$version"
tarball=$(cd "$tmp" && npm pack "onnxruntime-node@$version" --silent 2>/dev/null | tail -1)
# node comes with npm, so it computes the digest (openssl or xxd may be missing on a bare machine).
actual=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tmp/$tarball")
if [ "$actual" != "$integrity" ]; then
  echo "fetch-onnxruntime: integrity mismatch for $tarball: expected $integrity, got $actual" >&2
  exit 1
fi
tar -xzf "$tmp/$tarball" -C "$tmp" "$member"
mkdir -p .ort
# Move into place atomically so an interrupted run never leaves a truncated library behind.
install -m 0644 "$tmp/$member" ".ort/.libonnxruntime.so.1.partial"
mv -f .ort/.libonnxruntime.so.1.partial "$dest"
echo "fetch-onnxruntime: $dest ($(du -h "$dest" | cut -f1))"
