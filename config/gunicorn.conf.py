"""gunicorn settings: `gunicorn config.wsgi:application -c config/gunicorn.conf.py`.

Everything tunable comes from the environment. No `preload_app`: the psycopg
pool must be opened after the fork, in each worker.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threads per worker: more than one makes gunicorn's worker class gthread.
# Measured under load (BENCHMARKS.md, "Load"): a sync worker serves one
# request at a time and sits idle during each of a request's round trips to
# PostgreSQL and Redis, so with many clients requests queue behind it; 8
# threads per worker overlap those waits (about twice the requests per second
# at 8 clients on 2 cores) and keep HTTP connections alive between requests.
# Each process's connection pool (DB_POOL_MAX_SIZE, 10) covers its threads.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory growth in long-lived processes), but
# not often: a new worker costs about 1.3 s of CPU to start (imports, then
# cold caches), which every 1,000 requests was 1.3 ms a request, more than
# half of what a cached API read costs; measured under load, 1,000 gave a
# third of the requests per second of 20,000 on the cached detail.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = 1000
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The TLS-terminating proxy in front sets X-Forwarded-Proto (and -For); those
# headers are believed only from the proxy's own addresses: FORWARDED_ALLOW_IPS,
# comma-separated (loopback by default, for a proxy on the same host). Never
# "*": any client could then claim to be on HTTPS or any address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
if forwarded_allow_ips.strip() == "*":
    raise RuntimeError(
        "FORWARDED_ALLOW_IPS='*' trusts forwarded headers from any client: "
        "set it to the reverse proxy's address(es)."
    )
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
