#!/usr/bin/env bash
# The long schemathesis run: every operation of the app's /openapi.json against a served app
# (sandbox mode), stateful links included, for MAX_TIME seconds (default 600).
# Run from the repository root after `make install`:  bash bench/fuzz.sh [SECONDS]
# Goal: 0 answers with status 5xx, 0 answers that break the schema (exit status 0).
set -euo pipefail
cd "$(dirname "$0")/.."
max_time="${1:-600}"
work="$(mktemp -d)"
port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export PORT="$port" VAR_DIR="$work/var"
.venv/bin/specialistly db upgrade >/dev/null
.venv/bin/specialistly serve >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
cookie="$(curl -fs -i -X POST "http://127.0.0.1:$port/api/v1/specialists" \
  -H 'content-type: application/json' \
  -d '{"name":"Fuzz","email":"fuzz@example.com","password":"fuzz password","timezone":"UTC"}' \
  | tr -d '\r' | sed -n 's/^set-cookie: specialistly_session=\([^;]*\).*/\1/Ip')"
start=$(date +%s)
set +e
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" \
  --checks all --exclude-checks allow_header_conformance,positive_data_acceptance \
  --exclude-path /api/v1/auth/logout -H "Cookie: specialistly_session=$cookie" \
  --continue-on-failure --workers 2 --max-time "$max_time" --max-examples 100000 \
  | tee "$work/schemathesis.log" | tail -25
status=${PIPESTATUS[0]}
set -e
echo "elapsed: $(( $(date +%s) - start )) s; server tracebacks: $(grep -c Traceback "$work/serve.log" || true)"
echo "5xx answers: $(grep -c '\] 5[0-9][0-9]\|Server error' "$work/schemathesis.log" || true)"
exit "$status"
