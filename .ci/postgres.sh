#!/usr/bin/env bash
# PostgreSQL on loopback for the sweep storage test: install, start, create role and db ganx/ganx.
# Source it (`. .ci/postgres.sh`) so that GANX_TEST_POSTGRES_URL reaches the tests.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "not root: skipping PostgreSQL (its test skips outside CI)"; return 0 2>/dev/null || exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main status >/dev/null
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='ganx'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"CREATE USER ganx PASSWORD 'ganx' SUPERUSER\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='ganx'\"" | grep -q 1 \
    || su postgres -c "createdb -O ganx ganx"
export GANX_TEST_POSTGRES_URL=postgresql://ganx:ganx@127.0.0.1:5432/ganx
echo "PostgreSQL $version ready: postgresql://ganx:***@127.0.0.1:5432/ganx"
