#!/usr/bin/env bash
# Runs every test of LossDsl from nothing: setup (native prerequisites), restore, build, tests.
# Prints a closing line `tests: N passed, N failed[, N skipped]` summed over all test projects
# (from their TRX results) and exits non-zero if anything failed or did not run.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# NVRTC for the CUDA compile checks; when it cannot be installed the CUDA tests fail and say why.
bash scripts/setup-nvrtc.sh || echo "setup-nvrtc: NVRTC is missing; the CUDA tests will fail"

results=TestResults
rm -rf "$results"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

dotnet build LossDsl.sln -c Release -warnaserror 2>&1 | tail -n 30
build=${PIPESTATUS[0]}
if [[ $build -ne 0 ]]; then
  echo "build failed"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

# One test project at a time, each with its own TRX file: a solution-wide run names TRX files by the
# second they finish, so two projects finishing together overwrite each other's results.
status=0
projects=0
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  projects=$((projects + 1))
  dotnet test "$project" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "$results" 2>&1 \
    | grep -vE '^\s*$' | tail -n 40
  code=${PIPESTATUS[0]}
  [[ $code -ne 0 ]] && status=$code
done

passed=0; failed=0; skipped=0; files=0
for trx in "$results"/*.trx; do
  [[ -f $trx ]] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  p=$(get passed); f=$(get failed); t=$(get total); e=$(get executed)
  p=${p:-0}; f=${f:-0}; t=${t:-0}; e=${e:-0}
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + t - e))
done
# A project without results, or a test host that crashed or aborted, counts as a failure even if every test
# that reported passed.
if [[ $files -lt $projects || ( $status -ne 0 && $failed -eq 0 ) ]]; then
  echo "the test run did not complete (exit $status)"
  failed=$((failed + 1))
fi
line="tests: $passed passed, $failed failed"
[[ $skipped -gt 0 ]] && line="$line, $skipped skipped"
echo "$line"
[[ $status -eq 0 && $failed -eq 0 && $passed -gt 0 ]]
