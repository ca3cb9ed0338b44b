#!/usr/bin/env bash
# Configures and builds into build/ (reused between runs). PHASEGATE_SANITIZE=1 builds build-asan/ with ASan+UBSan.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/build"
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${PHASEGATE_SANITIZE:-0}" == 1 ]]; then dir="$root/build-asan"; flags=(-DCMAKE_BUILD_TYPE=Debug -DPHASEGATE_SANITIZE=ON); fi
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
[[ -f "$dir/CMakeCache.txt" ]] || cmake -S "$root" -B "$dir" "${gen[@]}" "${flags[@]}" >&2
cmake --build "$dir" -j "${PHASEGATE_JOBS:-2}" >&2
echo "$dir"
