"""gunicorn settings: `gunicorn config.wsgi:application -c config/gunicorn.conf.py`.

Everything tunable comes from the environment. No `preload_app`: the psycopg
pool must be opened after the fork, in each worker.
"""

import ctypes
import ctypes.util
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

# Memory of a worker (target: under 150 MB resident at the end of the load run,
# BENCHMARKS.md "Load"). Most of it is the heap, not the code: about 110 MB
# once the app is imported, then growth under load. glibc gives every thread
# that allocates its own heap ("arena", up to 8 per core) and each keeps the
# memory its thread freed, so 8 threads per worker held up to 9 partly empty
# heaps. Capped at 2 (glibc's MALLOC_ARENA_MAX, the usual setting for threaded
# Python servers), the largest worker ended the same load run at 136 MB
# instead of 152; the threads contend for an arena's lock only while they
# allocate, which the GIL mostly serialises anyway. The cap is set here, in the
# master before it forks, because glibc reads the MALLOC_ARENA_MAX variable
# only when a process starts; the variable, when set, gives the cap.
M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)
malloc_arena_max = int(os.environ.get("MALLOC_ARENA_MAX", "2"))


def _cap_malloc_arenas(limit: int) -> bool:
    """mallopt(M_ARENA_MAX, limit) on glibc; False elsewhere (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_ARENA_MAX, limit) == 1


malloc_arenas_capped = _cap_malloc_arenas(malloc_arena_max)
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
