# AInfluencer back-office: one image for web (gunicorn), worker and beat (celery).
# Build: docker build -t ainfluencer .   Run: docker compose up (see docs/operations.md)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump/pg_restore for django-dbbackup: same major version as the server (15).
# pgBackRest for the nightly base backup (point-in-time recovery): the same
# version as the db image in docker-compose.yml (remotes must match).
# ffmpeg (ffprobe) for the media library's videos and audio.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 pgbackrest=2.45-1 ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app

WORKDIR /app
# README.md is the package readme named in pyproject.toml.
COPY pyproject.toml README.md* ./
# The project installs no package of its own (setuptools packages = []): this
# installs the dependencies, cached as a layer until pyproject.toml changes.
RUN pip install .

COPY --chown=app:app . .

# Static files are collected at build time and served by WhiteNoise. The values
# below exist only so that settings load (DEBUG off requires them); they are not
# used at run time and nothing connects to these URLs during collectstatic.
RUN DEBUG=false \
    SECRET_KEY=build-only-not-a-runtime-secret-000000000000000000000000 \
    CRYPTOGRAPHY_KEY=build-only-not-a-runtime-key-000000 \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/media /app/backups \
    && chown -R app:app /app/staticfiles /app/media /app/backups

ENV STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    BACKUP_ROOT=/app/backups \
    DEBUG=false

USER app
EXPOSE 8000

# The start-up check refuses to serve when stored credentials do not decrypt
# with the configured keys (config.E001) or the deploy settings are wrong.
CMD ["sh", "-c", "python manage.py check --deploy --fail-level ERROR && exec gunicorn config.wsgi:application -c config/gunicorn.conf.py"]
