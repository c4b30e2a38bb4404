#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine (docs/cuda.md). Two halves:
#   bash scripts/gpu-check.sh publish   # here: a self-contained lossdsl in artifacts/gpu-check, without
#                                       # TorchSharp's CPU libtorch (the GPU machine's PyTorch provides libtorch)
#   bash scripts/gpu-check.sh run       # on the GPU machine (CUDA and PyTorch, no .NET): every catalog kernel's
#                                       # printed program against the float64 reference, then timings
# The run writes its output to $OUT/gpu-check.txt when OUT is set (the device tool's output folder).
set -euo pipefail
cd "$(dirname "$0")/.."
folder=artifacts/gpu-check

case "${1:-}" in
  publish)
    rm -rf "$folder"
    dotnet publish src/LossDsl.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=false -o "$folder" >/dev/null
    # libtorch comes from the GPU machine's PyTorch; keep TorchSharp's own bridge (libLibTorchSharp.so).
    find "$folder" -name 'libtorch*.so*' -delete
    find "$folder" -name 'libc10*.so*' -delete
    find "$folder" -name 'libgomp*.so*' -delete
    du -sh "$folder"
    ;;
  run)
    torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
    nvidia=$(dirname "$torch_dir")/nvidia
    libs="$torch_dir/lib"
    for d in "$nvidia"/*/lib; do [[ -d $d ]] && libs="$libs:$d"; done
    out=${OUT:-.}
    LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}" "$folder/LossDsl.Cli" gpu-check --steps 21 2>&1 | tee "$out/gpu-check.txt"
    ;;
  *)
    echo "usage: bash scripts/gpu-check.sh publish|run" >&2
    exit 2
    ;;
esac
