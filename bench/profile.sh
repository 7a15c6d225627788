#!/usr/bin/env bash
# py-spy on the `serve` process (SQLite, mounted sandbox) during the 50-client booking load of
# bench/bookings.py. Writes bench/profiles/bookings-sqlite.svg (flame graph, git-ignored),
# bookings-sqlite.raw (collapsed stacks, git-ignored) and bookings-sqlite.txt (summary: time
# by package and the top functions by own and total time).
# Usage, from anywhere: bash bench/profile.sh [BOOKINGS]   (default 600)
# py-spy needs ptrace rights on the server (root, or kernel.yama.ptrace_scope = 0).
set -euo pipefail
cd "$(dirname "$0")/.."
test -x .venv/bin/py-spy || make install
.venv/bin/python bench/bookings.py --only sqlite --profile \
  --bookings "${1:-600}" --creates 300 --cost-bookings 40 \
  --specialists 5 --isolation-rounds 1 --isolation-cap 60
echo
cat bench/profiles/bookings-sqlite.txt
