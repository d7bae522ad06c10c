"""The structure holds: SQL stays in the store, the web tier only reads, each process loads
only what it runs, and no module grows past one job's size."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from conftest import PageServer
from test_ingest import ingest_both

from feedsvc.config import Config

PACKAGE = Path(__file__).parent.parent / "feedsvc"
WEB_MODULES = (
    "web/__init__",
    "web/feeds",
    "web/pages",
    "web/health",
    "web/service",
    "web/admin",
    "overview",
    "suggest",
    "cache",
    "headers",
    "opml",
    "generation",
    "formats",
    "feeds",
)
WRITE_PATH = ("publish", "export", "ingest", "cycle", "announce", "schedule")
MAX_LINES = 400


def imported_names(path: Path) -> set[str]:
    """Every module a source file imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_only_the_store_imports_sqlalchemy() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in modules()
        if "store" not in path.relative_to(PACKAGE).parts
        and any(name.split(".")[0] == "sqlalchemy" for name in imported_names(path))
    ]
    assert offenders == []


def test_the_web_modules_import_nothing_of_the_write_path() -> None:
    for name in WEB_MODULES:
        imports = imported_names(PACKAGE / f"{name}.py")
        assert not {f"feedsvc.{w}" for w in WRITE_PATH} & imports, name


def test_extract_loads_no_web_store_render_or_network_library() -> None:
    loaded = loaded_after("import feedsvc.extract.listing")
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
    publisher |= {f"feedsvc.{w}" for w in WRITE_PATH}
    assert not publisher & ({name.split(".")[0] for name in loaded} | loaded)
    assert "feedsvc.publish.live" not in loaded and "feedsvc.web.feed_html" not in loaded
