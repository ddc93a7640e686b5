"""The master compiles the site's templates before it forks (config/warmup.py):
a worker's first admin page finds them in the cached loader."""

from django.template import engines
from django.template.loaders.cached import Loader as CachedLoader

from config.warmup import compile_templates


def cached_names(engine) -> set[str]:
    names: set[str] = set()
    for loader in engine.template_loaders:
        if isinstance(loader, CachedLoader):
            names |= set(loader.get_template_cache)
    return names


def test_every_template_a_page_renders_is_compiled_ahead():
    engine = engines["django"].engine
    for loader in engine.template_loaders:
        if isinstance(loader, CachedLoader):
            loader.reset()
    assert "admin/change_form.html" not in cached_names(engine)

    compiled = compile_templates()

    names = cached_names(engine)
    assert compiled >= 150
    # Django's admin, the project's overrides and the app pages
    assert {
        "admin/change_form.html",
        "admin/base_site.html",
        "admin/index.html",
    } <= names
    assert any(name.startswith("admin/platforms/") for name in names)
