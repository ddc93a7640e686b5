"""gunicorn settings: `gunicorn config.wsgi:application -c config/gunicorn.conf.py`.

Everything tunable comes from the environment. No `preload_app`: the psycopg
pool must be opened after the fork, in each worker.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory growth in long-lived processes).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = 100
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The TLS-terminating proxy in front sets X-Forwarded-Proto; trust it only from
# the addresses given (the compose network by default).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
