"""Run the production layout on 127.0.0.1 for tests and benchmarks: deploy/ nginx, gunicorn.

nginx runs from the shipped deploy/nginx.conf with only its marked lines changed, in a
prefix folder of its own (config, pid, logs, temp files), in the foreground as a child.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.net import wait_for_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
MODULES = Path("/usr/lib/nginx/modules")
LUA_MODULE = MODULES / "ngx_http_lua_module.so"


def missing_nginx() -> str | None:
    """Why the static tier cannot run here, or None when nginx and its Lua module are there."""
    if shutil.which("nginx") is None:
        return "nginx is not installed (make test installs it with apt-get when run as root)"
    if not LUA_MODULE.exists():
        return f"{LUA_MODULE} is missing: apt-get install libnginx-mod-http-lua"
    return None


def site_config(public: Path, app_port: int, port: int) -> str:
    """deploy/nginx.conf with its ADJUST lines pointed at this machine's folders and ports."""
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    changes = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        "listen 80;": f"listen 127.0.0.1:{port};",
        "root /srv/feedsvc/var/public;": f"root {public};",
        "/srv/feedsvc/deploy/": f"{DEPLOY}/",
    }
    for old, new in changes.items():
        if text.count(old) != 1:
            raise ValueError(f"deploy/nginx.conf: expected {old!r} exactly once")
        text = text.replace(old, new)
    return text


def static_site(root: Path, port: int) -> str:
    """A bare static server: nginx's best case, the ceiling the static tier is measured against."""
    return f"server {{ listen 127.0.0.1:{port}; root {root}; access_log off; }}\n"


def main_config(prefix: Path, sites: str, workers: int) -> str:
    """A whole nginx.conf around `sites`, everything kept under `prefix`."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # tmp folders are private to root
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}load_module {MODULES}/ndk_http_module.so;
load_module {LUA_MODULE};
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 1000000;
{temp}
{sites}
}}
"""


@contextmanager
def nginx(prefix: Path, sites: str, ports: list[int], workers: int = 1) -> Iterator[None]:
    """nginx in the foreground with these server blocks, stopped (by its pid) on exit."""
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, sites, workers), encoding="utf-8")
    command = ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            for port in ports:
                wait_for_port(port, process)
        except RuntimeError as exc:
            log = (prefix / "error.log").read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"{exc}; nginx error.log:\n{log[-2000:]}") from None
        yield
    finally:
        _stop(process)


@contextmanager
def gunicorn(
    app: str, port: int, *, workers: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """gunicorn as `feedsvc serve` runs it (gthread, 8 threads), without the access log."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--log-level",
        "warning",
        app,
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop a child we started, by its own pid; kill it if it does not go in 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr:
        process.stderr.close()


@contextmanager
def feedsvc_serve(
    config: Path, port: int, log: Path, *, workers: int = 2, scheduler: bool = True
) -> Iterator[subprocess.Popen]:
    """The real `feedsvc serve` in its own process group, its output in `log`, up and
    answering /healthz; the whole group stopped on exit (gunicorn, workers, scheduler)."""
    command = [sys.executable, "-m", "feedsvc.cli", "--config", str(config), "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    command += [] if scheduler else ["--no-scheduler"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 30
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"feedsvc serve did not come up; see {log}")
            time.sleep(0.2)
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to a child's process group, SIGKILL when it is not gone within 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def missing_socks_server() -> str | None:
    """Why no SOCKS5 server can run here, or None when Debian's microsocks is installed."""
    if shutil.which("microsocks") is None:
        return "microsocks is not installed (make test installs it with apt-get when run as root)"
    return None


@contextmanager
def socks_server(port: int, log: Path) -> Iterator[subprocess.Popen]:
    """Debian's microsocks, a SOCKS5 server that really relays, on 127.0.0.1:`port`: its own
    outgoing connections bound to 127.0.0.1, each one it makes logged in `log`
    ("client[N] 127.0.0.1: connected to HOST:PORT"); stopped by its pid on exit."""
    command = ["microsocks", "-i", "127.0.0.1", "-p", str(port), "-b", "127.0.0.1"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        yield process
    finally:
        _stop(process)
