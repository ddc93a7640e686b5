#!/usr/bin/env bash
# Writes a development .env with random keys the first time; never overwrites it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="$ROOT/.env"
[ -f "$ENV_FILE" ] && exit 0
rand() { "${PYTHON:-python3}" -c "import secrets; print(secrets.token_urlsafe($1))"; }
umask 077
cat > "$ENV_FILE" <<ENV
# Development settings written by scripts/dotenv.sh (git-ignored). Production
# sets these in its own environment instead; see README.
DEBUG=true
DATABASE_URL=${DATABASE_URL:-postgres://ainfluencer@127.0.0.1:${LOCAL_PG_PORT:-5433}/ainfluencer}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:${LOCAL_REDIS_PORT:-6380}/0}
SECRET_KEY=$(rand 50)
CRYPTOGRAPHY_KEY=$(rand 32)
ENV
echo "wrote $ENV_FILE with fresh random keys" >&2
