"""`python -m benchmarks [--sections a,b] [--compare OLD.json NEW.json]`."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # the per-user throttle still runs (its Redis script on every request) at
    # a rate no section reaches: a run right after another one counted the
    # same bench users' requests and the api section met a 429
    os.environ.setdefault("API_THROTTLE_USER", "1000000/min")
    import django

    django.setup()
    from benchmarks.runner import main

    sys.exit(main(sys.argv[1:]))
