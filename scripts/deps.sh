#!/usr/bin/env bash
# Installs the Debian packages phasegate needs (idempotent). As root it runs apt-get; otherwise it
# prints the exact command to run. Usage: scripts/deps.sh [--bench]
set -euo pipefail
# Build: the compiler, CMake, the libraries (postgresql-server-dev-15: PostgreSQL's parse-tree headers, src/sql/pg_nodes.hpp).
# ccache: developer mode uses it when present (cmake/DevMode.cmake).
# Packaging and its tests (tests/e2e/test_package.sh, test_cli_docs.sh): dpkg-dev (cpack's dpkg-shlibdeps), man-db,
# zsh and bash-completion (the completions are loaded by the real shells). Tests: PostgreSQL, python3 and curl for the example api and hooks.
packages=(g++ cmake ninja-build pkg-config git ccache
  libpqxx-dev libboost-dev libboost-filesystem-dev libtomlplusplus-dev libcli11-dev doctest-dev
  libpg-query-dev postgresql-server-dev-15 libprotobuf-c-dev libhowardhinnant-date-dev nlohmann-json3-dev libssl-dev libcpp-httplib-dev
  dpkg-dev man-db zsh bash-completion
  postgresql postgresql-contrib python3 python3-yaml curl
  python3-jsonschema chromium)   # tests: report --format json against its schema; the HTML report in a browser
if [[ "${1:-}" == "--bench" ]]; then packages+=(sqitch hyperfine); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#packages[@]} packages present" >&2
  exit 0
fi
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
# The postgresql package would start a cluster of its own; we only want the binaries.
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
