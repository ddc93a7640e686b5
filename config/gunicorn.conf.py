"""gunicorn settings: `gunicorn config.wsgi:application -c config/gunicorn.conf.py`.

Everything tunable comes from the environment. The master loads the app and
forks ready workers (`preload_app`, below); each worker opens its own psycopg
pool on its first query, after the fork.
"""

import ctypes
import ctypes.util
import os

import environ

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threads per worker: more than one makes gunicorn's worker class gthread.
# Measured under load (BENCHMARKS.md, "Load"): a sync worker serves one
# request at a time and sits idle during each of a request's round trips to
# PostgreSQL and Redis, so with many clients requests queue behind it;
# threads overlap those waits (about twice the requests per second at 8
# clients on 2 cores) and keep HTTP connections alive between requests (an
# idle kept-alive connection waits in the poller, not in a thread). 4, not 8:
# since the API's reads cost less CPU and fewer round trips, 8 threads mostly
# took turns at the GIL; on the scale database 4 served the heavy pages
# faster at 32 clients (character list 159-175 requests/s against 114-117,
# posts page 336-389 against 335-434) with a lower p95, and the workers ended
# 10-20 MB smaller (docs/benchmark-findings.md). 2 did as well on the API but
# leaves a worker only two requests that wait on something slow.
# Each process's connection pool (DB_POOL_MAX_SIZE, 10) covers its threads.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread, with new connections spread evenly over the workers (one worker
# took 7 of 8 kept-alive clients with gthread as it is: config/gunicorn_worker.py)
if threads > 1:
    worker_class = "config.gunicorn_worker.BalancedThreadWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory growth in long-lived processes), but
# not often: a new worker costs about 1.3 s of CPU to start (imports, then
# cold caches), which every 1,000 requests was 1.3 ms a request, more than
# half of what a cached API read costs; measured under load, 1,000 gave a
# third of the requests per second of 20,000 on the cached detail. (Part of
# that was the replaced worker's clients all reconnecting to its sibling,
# which config/gunicorn_worker.py now evens out; since then 10,000 and
# 100,000 measure the same, within the noise of a load run.)
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

# And a bound on what is left: a worker whose resident memory passed
# GUNICORN_MAX_RSS_MB after a request finishes the requests in hand and is
# replaced, as at max_requests (uWSGI's reload-on-rss). The heap of a
# long-lived worker only grows (freed memory stays mapped), so without a bound
# the largest worker of a load run ended at 151-155 MB; the check reads
# /proc/self/statm (microseconds) every RSS_CHECK_EVERY requests. 0: no bound.
max_rss_mb = int(os.environ.get("GUNICORN_MAX_RSS_MB", "140"))
RSS_CHECK_EVERY = 20
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 0


def resident_mb() -> float:
    """This process's resident memory, MB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return 0.0


# Python's cyclic garbage collector: a full collection (its oldest generation,
# every few dozen requests) walks every object it tracks, and once the app is
# imported that is about 170,000 objects that live as long as the worker
# (modules, classes, functions, URL patterns, forms and admin classes). It
# took 80-160 ms, holding the interpreter lock, so every request of the worker
# stalled with it: the admin character page, alone on the server, had a p95
# of 223 ms against a p50 of 71. gc.freeze() moves what exists once the worker
# is ready into a generation the collector never walks (CPython's advice for
# pre-fork servers); later full collections walk what requests made since,
# 20-35 ms, most of it freeing their garbage. Measured over HTTP (2 workers,
# 15 s a level, two A/B pairs in the same minutes): the character page's p95
# at 8 clients 405 and 423 ms against 462 and 510, its p99 433 and 477 against
# 588 and 671; the posts changelist's p99 alone 53 ms against 103 and 168.
# Nothing frozen is ever freed, which costs nothing here: it is the app.
# GUNICORN_GC_FREEZE=false turns it off.


# true/false variables parsed as the settings parse theirs (django-environ)
_env = environ.Env()


gc_freeze = _env.bool("GUNICORN_GC_FREEZE", default=True)

# preload_app (GUNICORN_PRELOAD, on by default): the master imports the app
# once and forks ready workers. Without it a worker replaced at max_requests
# or at the memory bound below imported everything again, about 1.3 s of CPU
# (half of a 2-core machine) while the other worker served alone: a full load
# run replaced 7-8 workers, and the rows under way waited (the character
# page's p99 at 1 client 297-694 ms in full runs, 94-117 ms in runs without a
# replacement). A fork costs milliseconds. It is safe because the master
# never opens a connection: Django opens each process's psycopg pool on its
# first query (never before the fork: psycopg/psycopg#544), and when_ready
# closes whatever the app's import opened (tests/ops/test_production_profile.py
# checks the master holds no connection). New code needs a restart, not HUP.
preload_app = _env.bool("GUNICORN_PRELOAD", default=True)


def _freeze_start_up_objects() -> int:
    """Load what the first request would (the URLconf imports every view and
    its forms; the templates are compiled), collect the start-up garbage, then
    freeze the rest; the number of objects frozen."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports the URLconf)
    from config.warmup import compile_templates

    compile_templates()  # every worker inherits them compiled
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _close_connections() -> None:
    """Close what the app's import opened in the master (nothing, today), so
    that no worker inherits a socket another process also uses."""
    from django.core.cache import caches
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
        # PostgreSQL's backend keeps a pool per process (close_pool); the
        # property that reads it would create one, so the class's dict is read
        if conn.alias in getattr(type(conn), "_connection_pools", {}):
            conn.close_pool()  # type: ignore[attr-defined]
    caches.close_all()


def when_ready(server):
    # with preload_app: in the master, once the app is loaded, before any fork
    if preload_app:
        _close_connections()
        if gc_freeze:
            _freeze_start_up_objects()  # each worker inherits the frozen set


def post_worker_init(worker):
    import gc

    if not gc_freeze:
        frozen = 0
    elif preload_app:
        frozen = gc.get_freeze_count()  # frozen in the master before the fork
    else:
        frozen = _freeze_start_up_objects()
    worker.log.info(
        "Worker %s ready to serve (%s start-up objects out of garbage collection)",
        worker.pid,
        f"{frozen:,}",
    )


def post_request(worker, req, environ, resp):
    if not max_rss_mb or worker.nr % RSS_CHECK_EVERY or not worker.alive:
        return
    rss = resident_mb()
    if rss > max_rss_mb:
        worker.log.info(
            "Worker %s resident %.0f MB over GUNICORN_MAX_RSS_MB %s: recycling",
            worker.pid,
            rss,
            max_rss_mb,
        )
        worker.alive = False  # gunicorn's own graceful stop, as at max_requests


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
