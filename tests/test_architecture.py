"""The import graph of the application: no circles, no arrow back up.

Layers, lowest first: leaf modules (field builders, validation rules: they
import no project module but other leaves) < models < services and selectors
< tasks, API and admin. A model module imports only other model modules and
leaf modules; services and selectors never import tasks, the API or the admin;
nothing in the runtime imports the benchmark harness.
Imports inside functions count too (a function-level import that dodges a
circle is still a circle).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = (
    "config",
    "characters",
    "content",
    "platforms",
    "automation",
    "analytics",
    "logs",
)

# None left: AutomationRule's save()/clean() use automation.rules, a leaf.
KNOWN_CIRCLES: list[set[str]] = []
KNOWN_UPWARD: set[tuple[str, str]] = set()


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in its body)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {resolve(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    # `from config import heartbeat` imports the submodule
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(
                        submodule if submodule in mods else resolve(node.module)
                    )
        graph[name] = {t for t in targets if t and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def is_models(name: str) -> bool:
    return name.endswith(".models") or ".models." in name


def leaves(graph: dict[str, set[str]]) -> set[str]:
    """Modules that import no project module but other leaves."""
    found: set[str] = set()
    while True:
        more = {
            name
            for name, targets in graph.items()
            if name not in found and not is_models(name) and targets <= found
        }
        if not more:
            return found
        found |= more


GRAPH = import_graph(modules())
LEAVES = leaves(GRAPH)


def test_the_walk_sees_the_application():
    assert "platforms.publishing" in GRAPH["platforms.tasks"]
    assert "characters.models" in GRAPH["platforms.models"]
    assert "config.heartbeat" in GRAPH["config.celery"]
    assert "config" not in GRAPH["config.celery"]


def test_there_is_no_new_import_circle():
    new = [c for c in circles(GRAPH) if c not in KNOWN_CIRCLES]
    assert new == []


def test_model_modules_import_only_models_and_field_builders():
    upward = {
        (name, target)
        for name, targets in GRAPH.items()
        if is_models(name)
        for target in targets
        if not is_models(target) and target not in LEAVES
    }
    assert upward == KNOWN_UPWARD


def test_the_leaves_are_what_models_may_lean_on():
    # the field builders and the platforms' scheduling rules are leaves; a
    # module that reaches back into the apps is not
    assert {
        "config.fields",
        "platforms.adapters.rules",
        "content.media_paths",
        "automation.rules",
    } <= LEAVES
    assert "platforms.publishing" not in LEAVES


def test_services_and_selectors_never_import_tasks_api_or_admin():
    def interface(name: str) -> bool:
        last = name.rsplit(".", 1)[-1]
        return last in ("tasks", "admin", "admin_site") or ".api." in f"{name}."

    upward = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.rsplit(".", 1)[-1] in ("services", "selectors")
        for target in targets
        if interface(target)
    }
    assert upward == set()


def test_the_runtime_never_imports_the_benchmarks():
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "benchmarks" for n in names), path


def test_events_travel_by_name():
    """Producers tell what happened through logs.events (an outbox row); no
    module outside the automation app imports its engine to tell it, and the
    outbox knows its consumers only by the dotted names in settings."""
    engine = {
        name
        for name in GRAPH
        if name.startswith("automation.")
        and not is_models(name)
        and ".api" not in name
        and name != "automation.admin"
    }
    callers = {
        (name, target)
        for name, targets in GRAPH.items()
        if not name.startswith("automation.")
        for target in targets & engine
    }
    assert callers == set()
    assert {"automation.listeners", "automation.runs"} <= engine
    assert not any(t.startswith("automation") for t in GRAPH["logs.outbox"])
    assert "logs.events" in GRAPH["platforms.publishing"]


def test_every_api_viewset_stands_on_the_api_base():
    """The API's scaffolding lives once, in config.api: a viewset built on
    DRF's classes directly would bring its own copies back."""
    import config.urls  # noqa: F401  (every app's api.urls registers here)
    from config.api import GenericViewSet, ModelViewSet, ReadOnlyModelViewSet, router

    bases = (ModelViewSet, ReadOnlyModelViewSet, GenericViewSet)
    outside = {
        prefix
        for prefix, viewset, _ in router.registry
        if not issubclass(viewset, bases)
    }
    assert len(router.registry) >= 10
    assert outside == set()
