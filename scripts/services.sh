#!/usr/bin/env bash
# Project-local PostgreSQL and Redis for development and tests.
#   scripts/services.sh start   install (apt-get, as root) when missing, init, start, create db
#   scripts/services.sh stop    stop both
#   scripts/services.sh status
# With DATABASE_URL set in the environment, PostgreSQL is left to that server;
# with REDIS_URL set, Redis likewise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
PGDATA="$LOCAL/postgres"
PGRUN="$LOCAL/run"
PGLOG="$LOCAL/log/postgres.log"
PGPORT="${LOCAL_PG_PORT:-5433}"
PGUSER_APP="ainfluencer"
PGDB="ainfluencer"
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
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGRUN'
shared_preload_libraries = 'pg_stat_statements'
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
random_page_cost = 1.1
fsync = ${LOCAL_PG_FSYNC:-on}
CONF
  fi
  if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$PGPORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null \
      || { tail -20 "$PGLOG" >&2; die "PostgreSQL did not start (log: $PGLOG)"; }
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
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
  *) echo "usage: $0 start|stop|status|createdb NAME" >&2; exit 2 ;;
esac
