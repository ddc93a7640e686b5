"""What a web worker would do on its first requests, done once in gunicorn's
master before it forks its workers (preload_app, config/gunicorn.conf.py).

Django compiles a template the first time a process renders it and keeps it in
the engine's cached loader. A worker forked from a master that had compiled
nothing paid for every template of its first pages: on the scale database
the first admin character page of a process took 900 ms and the next ones
30; the posts changelist 229 and 17. Workers are replaced at max_requests and
at the memory bound (GUNICORN_MAX_RSS_MB), several times in a load run, so
the first pages came back again and again. Compiled in the master, the
templates are inherited by every worker (and frozen out of the garbage
collector with the rest of the start-up objects).
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def compile_templates() -> int:
    """Compile every template of the site's Django template engines, and the
    form renderer's own, into their cached loaders; how many."""
    from django.forms.renderers import get_default_renderer
    from django.template import engines
    from django.template.backends.django import DjangoTemplates
    from django.template.utils import get_app_template_dirs

    sources: list[tuple[DjangoTemplates, list[Path]]] = []
    for backend in engines.all():
        if isinstance(backend, DjangoTemplates):
            engine = backend.engine
            dirs = [Path(d) for d in engine.dirs]
            if engine.app_dirs:
                dirs += [Path(d) for d in get_app_template_dirs("templates")]
            sources.append((backend, dirs))
    # the form renderer has an engine of its own (django/forms/templates); its
    # names are looked up through it, so an app's override still wins
    renderer = getattr(get_default_renderer(), "engine", None)
    if isinstance(renderer, DjangoTemplates):
        sources.append((renderer, [Path(d) for d in renderer.engine.dirs]))
    compiled = 0
    for backend, dirs in sources:
        for root in dirs:
            for path in sorted(root.rglob("*.html")):
                name = path.relative_to(root).as_posix()
                try:
                    backend.engine.get_template(name)
                except Exception as exc:  # noqa: BLE001 (a warm-up never stops the server)
                    # one no page uses (django-filter's crispy form: no
                    # crispy_forms here); a page that does meets it as before
                    logger.debug("template %s not compiled ahead: %s", name, exc)
                    continue
                compiled += 1
    return compiled
