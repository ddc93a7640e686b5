#!/usr/bin/env bash
# Project-local PostgreSQL and Redis for development and tests.
#   scripts/services.sh start   install (apt-get, as root) when missing, init, start, create db
#   scripts/services.sh stop    stop both
#   scripts/services.sh status
#   scripts/services.sh pg-start | pg-stop   PostgreSQL alone
# With DATABASE_URL set in the environment, PostgreSQL is left to that server;
# with REDIS_URL set, Redis likewise.
#
# The local cluster archives its WAL with pgBackRest from its first start
# (point-in-time recovery, docs/operations.md): repository in
# .local/pgbackrest/repo, stanza "ainfluencer". A cluster made before that is
# reconfigured (and restarted once) by the next start.
# LOCAL_DIR (default .local) places everything elsewhere: the tests make
# throwaway clusters with it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="${LOCAL_DIR:-$ROOT/.local}"
PGDATA="$LOCAL/postgres"
PGRUN="$LOCAL/run"
PGLOG="$LOCAL/log/postgres.log"
PGPORT="${LOCAL_PG_PORT:-5433}"
PGUSER_APP="ainfluencer"
PGDB="ainfluencer"
PGBR="$LOCAL/pgbackrest"
PGBR_CONF="$PGBR/pgbackrest.conf"
STANZA="ainfluencer"
REDIS_DIR="$LOCAL/redis"
REDIS_PORT="${LOCAL_REDIS_PORT:-6380}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    die "$* missing and not root: install it (Debian/Ubuntu: sudo apt-get install -y $*)"
  fi
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "$@" >/dev/null
}

pg_bindir() {
  local dir=""
  if command -v pg_config >/dev/null 2>&1; then dir="$(pg_config --bindir)"; fi
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  fi
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    if command -v initdb >/dev/null 2>&1; then dir="$(dirname "$(command -v initdb)")"; fi
  fi
  echo "$dir"
}

# initdb and postgres refuse to run as root: run them as an unprivileged user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pgbackrest_cmd() {
  as_pg pgbackrest "--config=$PGBR_CONF" "--stanza=$STANZA" "$@"
}

# Writes the pgBackRest configuration and the server's archiving settings
# (PGDATA/pitr.conf, included from postgresql.conf). Prints "changed" when the
# server's archive settings are new or different.
pitr_configure() {
  command -v pgbackrest >/dev/null 2>&1 || apt_install pgbackrest
  case "$PGBR_CONF" in *"'"*|*" "*) die "the checkout's path may hold no quote or space (archive_command): $PGBR_CONF";; esac
  mkdir -p "$PGBR/repo" "$PGBR/lock" "$LOCAL/log/pgbackrest"
  chmod 750 "$PGBR"
  cat > "$PGBR_CONF" <<CONF
# Written by scripts/services.sh at every start (do not edit: edit the script).
[global]
repo1-path=$PGBR/repo
# Archive retention follows the base backups: WAL older than the oldest kept
# full backup is expired with it (after every backup).
repo1-retention-full-type=count
repo1-retention-full=2
compress-type=lz4
start-fast=y
lock-path=$PGBR/lock
log-path=$LOCAL/log/pgbackrest
log-level-console=warn
log-level-file=info

[$STANZA]
pg1-path=$PGDATA
pg1-port=$PGPORT
pg1-socket-path=$PGRUN
pg1-user=postgres
CONF
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$PGBR" "$LOCAL/log/pgbackrest"; fi
  local want
  want="$(cat <<CONF
# Written by scripts/services.sh at every start: WAL archiving with pgBackRest.
archive_mode = on
archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'
archive_timeout = 300
CONF
)"
  if [ "$(cat "$PGDATA/pitr.conf" 2>/dev/null || true)" != "$want" ]; then
    printf '%s\n' "$want" > "$PGDATA/pitr.conf"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA/pitr.conf"
    echo changed
  fi
  if ! grep -q "^include_if_exists = 'pitr.conf'" "$PGDATA/postgresql.conf"; then
    printf "\n# point-in-time recovery (scripts/services.sh)\ninclude_if_exists = 'pitr.conf'\n" >> "$PGDATA/postgresql.conf"
    echo changed
  fi
}

pg_start() {
  local bin; bin="$(pg_bindir)"
  if [ -z "$bin" ]; then apt_install postgresql postgresql-contrib; bin="$(pg_bindir)"; fi
  [ -x "$bin/initdb" ] || die "no PostgreSQL server binaries found (initdb)"
  local ver; ver="$("$bin/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')"
  [ "$ver" -ge 15 ] || die "PostgreSQL 15 or newer is needed, found $ver"
  # the trigram and uuid extensions come with contrib
  if [ ! -f "$(dirname "$bin")/../../share/postgresql/$ver/extension/pg_trgm.control" ] \
     && [ ! -f "/usr/share/postgresql/$ver/extension/pg_trgm.control" ]; then
    apt_install "postgresql-contrib" || true
  fi
  mkdir -p "$PGRUN" "$LOCAL/log"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres "$PGRUN" "$LOCAL/log"
    # postgres must be able to reach the data folder through the checkout
    if ! runuser -u postgres -- test -x "$LOCAL"; then
      die "user postgres cannot enter $LOCAL: make the checkout's folders world-traversable (chmod o+x)"
    fi
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA (PostgreSQL $ver)"
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    chmod 700 "$PGDATA"
    # Loopback and the socket only; trust is acceptable for a cluster that
    # listens nowhere else (see README).
    local nosync=(); [ "${LOCAL_PG_FSYNC:-on}" = off ] && nosync=(--no-sync)
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 "${nosync[@]}" >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGRUN'
shared_preload_libraries = 'pg_stat_statements'
max_connections = 200
shared_buffers = ${LOCAL_PG_SHARED_BUFFERS:-512MB}
work_mem = 32MB
maintenance_work_mem = 512MB
random_page_cost = 1.1
fsync = ${LOCAL_PG_FSYNC:-on}
# the default 1GB forced a checkpoint every ~540 MB of WAL: 13-36 s apart in
# the bench's publishing sections, each followed by full-page images
# (BENCHMARKS.md, findings of 2026-12-01)
max_wal_size = ${LOCAL_PG_MAX_WAL_SIZE:-8GB}
CONF
  fi
  local pitr_changed; pitr_changed="$(pitr_configure)"
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    if [ "$("${psql[@]}" -c "SHOW archive_mode")" != on ]; then
      # a cluster from before WAL archiving: archive_mode needs a restart
      log "restarting PostgreSQL on 127.0.0.1:$PGPORT to switch WAL archiving on"
      as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGLOG" -m fast -w -t 60 restart >/dev/null \
        || { tail -20 "$PGLOG" >&2; die "PostgreSQL did not restart (log: $PGLOG)"; }
    else
      [ -n "$pitr_changed" ] && as_pg "$bin/pg_ctl" -D "$PGDATA" reload >/dev/null
      log "PostgreSQL already running on 127.0.0.1:$PGPORT"
    fi
  else
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null \
      || { tail -20 "$PGLOG" >&2; die "PostgreSQL did not start (log: $PGLOG)"; }
  fi
  # The stanza (idempotent), and on a new or changed setup pgBackRest's own
  # check that a segment really reaches the archive.
  pgbackrest_cmd stanza-create >/dev/null \
    || die "pgbackrest stanza-create failed (log: $LOCAL/log/pgbackrest)"
  if [ -n "$pitr_changed" ]; then
    log "WAL archiving to $PGBR/repo (pgBackRest stanza $STANZA)"
    pgbackrest_cmd check || die "WAL archiving does not work (log: $LOCAL/log/pgbackrest)"
  fi
  # The application role owns its database and creates the (trusted) extensions
  # itself in a migration, so restores by that role never hit "must be owner
  # of extension". CREATEDB for the test databases, CREATEROLE for create_db_roles.
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$PGUSER_APP'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE $PGUSER_APP LOGIN CREATEDB CREATEROLE"
  fi
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$PGDB'")" != 1 ]; then
    log "creating database $PGDB"
    "${psql[@]}" -c "CREATE DATABASE $PGDB OWNER $PGUSER_APP"
  fi
  "${psql[@]}" -d "$PGDB" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true
}

pg_stop() {
  local bin; bin="$(pg_bindir)"
  if [ -n "$bin" ] && [ -s "$PGDATA/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "stopping PostgreSQL"
    as_pg "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  fi
}

redis_start() {
  if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
  mkdir -p "$REDIS_DIR" "$LOCAL/log"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$LOCAL/log/redis.log" \
    --save "" --appendonly no --maxmemory-policy noeviction >/dev/null
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  die "Redis did not start (log: $LOCAL/log/redis.log)"
}

redis_stop() {
  if command -v redis-cli >/dev/null 2>&1 && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "stopping Redis"
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  start)
    if [ -z "${DATABASE_URL:-}" ]; then pg_start; else log "DATABASE_URL is set: using that server"; fi
    if [ -z "${REDIS_URL:-}" ]; then redis_start; else log "REDIS_URL is set: using that server"; fi
    ;;
  stop) redis_stop; pg_stop ;;
  createdb)
    # createdb NAME: an extra database on the local cluster (make bench)
    [ -n "${2:-}" ] || die "usage: $0 createdb NAME"
    if [ -n "${DATABASE_URL:-}" ]; then log "DATABASE_URL is set: create $2 yourself"; exit 0; fi
    pg_start
    bin="$(pg_bindir)"
    q=("$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
    if [ "$("${q[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$2'")" != 1 ]; then
      "${q[@]}" -c "CREATE DATABASE $2 OWNER $PGUSER_APP"
    fi
    ;;
  status)
    bin="$(pg_bindir)"
    as_pg "$bin/pg_ctl" -D "$PGDATA" status || true
    redis-cli -p "$REDIS_PORT" ping || true
    ;;
  *) echo "usage: $0 start|stop|status|pg-start|pg-stop|createdb NAME" >&2; exit 2 ;;
esac
