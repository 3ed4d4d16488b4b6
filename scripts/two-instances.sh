#!/bin/sh
# Two Polyphony instances on one machine, sharing one PostgreSQL and one Redis (README: Scaling out).
#   DATABASE_URL=postgres://… REDIS_URL=redis://… PUBLIC_URL=http://localhost:8080 scripts/two-instances.sh
# Put a reverse proxy in front of 127.0.0.1:3001 and :3002 (round robin; no stickiness needed).
# Ctrl-C (or SIGTERM) drains both: each flushes its meetings and hands them over before it exits.
set -eu
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL=postgres://user@host:5432/database}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"
: "${PUBLIC_URL:=http://localhost:8080}"
export DATABASE_URL REDIS_URL PUBLIC_URL
npx vite build --logLevel warn
PORT=3001 INSTANCE=one node --import tsx server/main.ts &
one=$!
PORT=3002 INSTANCE=two node --import tsx server/main.ts &
two=$!
trap 'kill -TERM $one $two 2>/dev/null; wait' INT TERM
wait
