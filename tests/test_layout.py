"""The structure holds: SQL stays in the store, the web tier only reads, each process loads
only what it runs, and no module grows past one job's size."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from conftest import PageServer
from test_ingest import ingest_both

from feedsvc.config import Config

PACKAGE = Path(__file__).parent.parent / "feedsvc"
MAX_LINES = 400
# Modules that do I/O, or whose import pulls in a library that does.
IO_LIBRARIES = {
    "requests", "urllib3", "socket", "http", "urllib.request", "subprocess", "sqlalchemy",
    "sqlite3", "psycopg", "flask", "werkzeug", "gunicorn", "apscheduler", "feedgen",
}  # fmt: skip
# What a pure stage may import of feedsvc: its own folder, the other pure stage, and the
# light words at the root.
PURE_MAY_IMPORT = {
    "feedsvc", "feedsvc.extract", "feedsvc.discover", "feedsvc.config", "feedsvc.model",
    "feedsvc.keys", "feedsvc.formats", "feedsvc.version",
}  # fmt: skip
# The HTTP clients: only fetch/ opens connections (a host name from `socket` is no request).
NETWORK_CLIENTS = {"requests", "urllib3", "http.client", "urllib.request"}
# What the web tier may never import: the write path. It may render in memory (publish.live).
WRITE_PATH = {
    "feedsvc.ingest", "feedsvc.jobs", "feedsvc.cli", "feedsvc.publish.publisher",
    "feedsvc.publish.export", "feedsvc.publish.announce", "feedsvc.publish.follow",
}  # fmt: skip


def imported_names(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Every module a source file imports (at its top or inside a function), with each
    name imported from it as `module.name`; `top_level_only` skips function bodies and
    `if TYPE_CHECKING:` blocks (the imports that run when the module is loaded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.If | ast.Try):
            yield from _top_level(node.body + getattr(node, "orelse", []))
        else:
            yield node


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def in_folder(path: Path, *folders: str) -> bool:
    return path.relative_to(PACKAGE).parts[0] in folders


def matches(name: str, prefixes: set[str]) -> bool:
    """`name` is one of `prefixes` or a module inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_every_package_says_its_verb_and_its_rule() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 8, init.parent.name


def test_only_the_store_runs_sql() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in modules()
        if not in_folder(path, "store")
        and matches_any(imported_names(path), {"sqlalchemy", "sqlite3", "psycopg", "alembic"})
    ]
    assert offenders == []


def test_only_fetch_touches_the_network() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in modules()
        if not in_folder(path, "fetch") and matches_any(imported_names(path), NETWORK_CLIENTS)
    ]
    assert offenders == []


def test_one_place_opens_connections() -> None:
    """Only fetch/dial.py makes a session, a pool or a socket: every request goes through
    its resolve-check-connect, and a module that made its own would bypass the guard."""
    makers = {"Session", "PoolManager", "HTTPConnectionPool", "HTTPConnection", "socket"}

    def calls(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return {
            ast.unparse(node.func).rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }

    found = {path.relative_to(PACKAGE).as_posix() for path in modules() if calls(path) & makers}
    assert found == {"fetch/dial.py"}


def test_extract_and_discover_are_pure() -> None:
    for path in modules():
        if not in_folder(path, "extract", "discover"):
            continue
        names = imported_names(path)
        ours = {n for n in names if n.split(".")[0] == "feedsvc"}
        assert not matches_any(names, IO_LIBRARIES), path
        assert all(matches(n, PURE_MAY_IMPORT) for n in ours), (path, ours)


def test_the_web_tier_imports_nothing_of_the_write_path() -> None:
    for path in modules():
        if in_folder(path, "web"):
            assert not matches_any(imported_names(path), WRITE_PATH), path


def test_no_import_cycle() -> None:
    """Between the modules as loaded (imports inside functions run later, and are left out)."""
    known = {module_name(path): path for path in modules()}
    graph = {
        name: {n for n in imported_names(path, top_level_only=True) if n in known and n != name}
        for name, path in known.items()
    }
    cycles = [component for component in strongly_connected(graph) if len(component) > 1]
    assert cycles == []


def matches_any(names: set[str], prefixes: set[str]) -> bool:
    return any(matches(name, prefixes) for name in names)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components: a component of more than one module is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_extract_loads_no_web_store_render_or_network_library() -> None:
    code = "\n".join(f"import {module_name(p)}" for p in modules() if in_folder(p, "extract"))
    loaded = loaded_after(code)
    assert not {"flask", "sqlalchemy", "feedgen", "requests"} & loaded


def test_the_package_itself_imports_nothing_heavy() -> None:
    loaded = loaded_after("import feedsvc")
    assert not {"flask", "sqlalchemy", "feedgen", "requests", "lxml"} & {
        name.split(".")[0] for name in loaded
    }


def test_the_gunicorn_master_loads_nothing_its_workers_would_inherit() -> None:
    """`feedsvc serve` becomes `python -m feedsvc.cli.server`: workers fork from that process."""
    loaded = {name.split(".")[0] for name in loaded_after("import feedsvc.cli.server")}
    assert not {"flask", "sqlalchemy", "feedgen", "lxml", "requests", "apscheduler"} & loaded


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_a_web_worker_serving_published_feeds_loads_no_publisher_library(
    server: PageServer, run_ingest, config: Config
) -> None:
    ingest_both(server, run_ingest)
    code = f"""
from feedsvc.config import load
from feedsvc.web import create_app
client = create_app(load({str(config.path)!r})).test_client()
for path in ("topics/security-cooperation", "types/report", "topics/security-cooperation/types/tool"):
    for fmt in ("rss", "atom", "json"):
        for encoding in ("identity", "gzip"):
            assert client.get(f"/{{path}}/feed.{{fmt}}", headers={{"Accept-Encoding": encoding}}).status_code == 200
assert client.get("/topics/security-cooperation/archive/1.atom").status_code == 200
assert client.get("/topics/security-cooperation/digest/weekly.atom").status_code == 200
assert client.get("/healthz").status_code == 200
assert client.get("/").status_code == 200
assert client.get("/feeds.opml").status_code == 200
"""
    loaded = loaded_after(code)
    publisher = {"feedgen", "lxml", "sqlalchemy", "requests", "apscheduler"}
    assert not publisher & {name.split(".")[0] for name in loaded}
    assert not {name for name in loaded if matches(name, WRITE_PATH)}
    assert "feedsvc.publish.live" not in loaded and "feedsvc.web.feed_html" not in loaded

    # A search renders with feedgen, loaded on the first one; it still reads without SQLAlchemy.
    searched = loaded_after(
        code + 'assert client.get("/search/feed.atom?q=security").status_code == 200\n'
    )
    assert "feedgen" in {name.split(".")[0] for name in searched}
    assert not {"sqlalchemy", "requests", "apscheduler"} & {n.split(".")[0] for n in searched}
