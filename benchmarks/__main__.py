"""`python -m benchmarks [--sections a,b] [--compare OLD.json NEW.json]`."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from benchmarks.runner import main

    sys.exit(main(sys.argv[1:]))
