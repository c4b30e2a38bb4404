#!/usr/bin/env bash
# Runs the BenchmarkDotNet suite (fused vs eager vs built-in, plus the floors) in Release.
#   bash scripts/bench.sh          full run (minutes); results feed docs/benchmarks.md
#   bash scripts/bench.sh quick    short smoke run (under 2 minutes)
#   extra arguments go to BenchmarkDotNet, e.g. --filter '*FusedVsEager*'
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=()
if [[ ${1:-} == quick ]]; then args+=(--quick); shift; fi
dotnet run -c Release --project tests/LossDsl.Benchmarks -- "${args[@]}" "$@"
