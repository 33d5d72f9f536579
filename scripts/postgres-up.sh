#!/usr/bin/env bash
# Start Debian's PostgreSQL on 127.0.0.1:5432 for the service's tests, with a role that may
# create databases (each test module makes its own). Idempotent. Needs root and the
# `postgresql` package (Debian: apt-get install -y postgresql).
set -euo pipefail

role=${PG_TEST_ROLE:-model}
password=${PG_TEST_PASSWORD:-model}

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "PostgreSQL not found: install it (Debian: apt-get install -y postgresql)" >&2
  exit 1
fi

version=$(pg_lsclusters --no-header | awk 'NR==1 {print $1}')
if [ -z "$version" ]; then
  version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -n | tail -n 1)
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters --no-header | awk -v v="$version" '$1==v && $2=="main"' | grep -q online; then
  pg_ctlcluster "$version" main start
fi

for _ in $(seq 1 30); do
  if su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then
    break
  fi
  sleep 1
done

su postgres -c "psql -v ON_ERROR_STOP=1 -qAt" <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password';
  END IF;
END
\$\$;
SQL
if ! su postgres -c "psql -qAtc \"select 1 from pg_database where datname='$role'\"" | grep -q 1; then
  su postgres -c "createdb -O $role $role"
fi
echo "postgresql+psycopg://$role:$password@127.0.0.1:5432/$role"
