#!/usr/bin/env bash
# Runs LossDsl's main job on built-in synthetic data: `lossdsl compare` (trains a small U-Net with several
# losses on sparse, imbalanced data and reports which works best). Extra arguments go to `compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet run --project src/LossDsl.Cli -c Release -- compare "$@"
