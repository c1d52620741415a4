#!/usr/bin/env bash
# Adapted from docker-library/postgres's docker-entrypoint.sh (Copyright (c) 2014, Docker PostgreSQL Authors;
# MIT License, its text in NOTICE).
# docker-entrypoint.sh for spacefleet/postgres (Debian postgresql-15): the contract of the official postgres image.
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default postgres),
#   POSTGRES_DB (default $POSTGRES_USER), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256),
#   *_FILE variants of the first three, PGDATA (default /var/lib/postgresql/data).
#   initdb runs only when $PGDATA holds no database; then /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz run once.
#   Started as root it prepares $PGDATA and drops to postgres (uid/gid 999); started as uid 999 (runAsNonRoot,
#   fsGroup 999) it runs directly. Arguments starting with '-' are passed to postgres (e.g. -c ssl=on).
set -Eeuo pipefail

file_env() { # VAR [default]: VAR or the contents of VAR_FILE
  local var=$1 fvar="${1}_FILE" def=${2:-} val
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then echo >&2 "error: both $var and $fvar are set"; exit 1; fi
  val=$def
  if [ -n "${!var:-}" ]; then val=${!var}; elif [ -n "${!fvar:-}" ]; then val=$(< "${!fvar}"); fi
  export "$var"="$val"; unset "$fvar"
}

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi   # psql, pg_isready, bash, ...

: "${PGDATA:=/var/lib/postgresql/data}"; export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"; chown postgres:postgres "$PGDATA"; chmod 00700 "$PGDATA"
  mkdir -p /var/run/postgresql; chown postgres:postgres /var/run/postgresql; chmod 03775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

mkdir -p "$PGDATA"; chmod 00700 "$PGDATA" 2>/dev/null || :

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_USER postgres
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_DB "$POSTGRES_USER"
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo >&2 "error: database is uninitialized and POSTGRES_PASSWORD is not set (set it, or POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  if ! getent passwd "$(id -u)" >/dev/null; then
    echo >&2 "error: uid $(id -u) has no passwd entry; run as root or as uid 999 (postgres)"; exit 1
  fi
  # initdb's defaults match the official image: "local all all trust" (+ trust on 127.0.0.1/::1)
  pwfile=$(mktemp); trap 'rm -f "$pwfile"' EXIT; printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
  rm -f "$pwfile"; trap - EXIT
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

  # temporary server on the unix socket only, with the same extra arguments (e.g. ssl settings)
  export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
  extra=; if [ $# -gt 1 ]; then extra=$(printf '%q ' "${@:2}"); fi
  pg_ctl -D "$PGDATA" -o "$extra-c listen_addresses='' -p 5432" -w start
  psql_() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
  if [ "$POSTGRES_DB" != postgres ]; then
    psql_ --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)     if [ -x "$f" ]; then echo "running $f"; "$f"; else echo "sourcing $f"; . "$f"; fi ;;
      *.sql)    echo "running $f"; psql_ --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | psql_ --dbname "$POSTGRES_DB" ;;
      *)        if [ -e "$f" ]; then echo "ignoring $f"; fi ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
