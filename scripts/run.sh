#!/usr/bin/env bash
# Runs LossDsl's main job on built-in synthetic data: `lossdsl compare` (trains a small U-Net with several
# losses on sparse, imbalanced data and reports which works best). Extra arguments go to `compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# libtorch prints a harmless "Could not initialize NNPACK" warning per thread on CPUs NNPACK does not
# support (it falls back correctly); keep the rest of standard error.
dotnet run --project src/LossDsl.Cli -c Release -- compare "$@" 2> >(grep -v 'NNPACK' >&2)
