"""The pure core does no I/O (docs/architecture.md, STYLE.md, issue 11).

The core is every module of the package except the shell declared below, so a new module is
core unless someone says why it is not. Two checks: importing the whole core in a fresh
interpreter loads no I/O library, and the core's source never reads the clock, the
environment, files or the network (a static scan with ``ast``: it sees the usual spellings,
not every way round them; the tests at the end show what it catches).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import pytest

from tests.source_tree import imported_modules, is_within, modules, parse

pytestmark = pytest.mark.integration  # tests start a Python process

# The shell: each entry (a module, or a package and everything in it) does I/O by design.
SHELL = {
    "awareness.__main__": "`python -m awareness` starts the command line",
    "awareness.cli": "click commands, and cli.run: the process entry point (uvicorn, the "
                     "scheduler's lock file, the demo's folders)",
    "awareness.web": "Starlette: requests, cookies, templates read from disk",
    "awareness.service": "the use cases: where the core meets storage, fetching and mail",
    "awareness.storage": "SQLAlchemy and Alembic: the database",
    "awareness.scheduler": "APScheduler; its heartbeat reads the clock",
    "awareness.leader": "leader election: a lock file, or an advisory lock in the database",
    "awareness.metrics": "Prometheus: this process's counters, and gauges read at scrape time",
    "awareness.queue": "procrastinate: jobs in PostgreSQL for worker processes",
    "awareness.settings": "reads the settings file, the environment and secret files",
    "awareness.sources.fetch": "HTTP (httpx) and DNS",
    "awareness.sources.policy": "the system's DNS resolver (fetch's, without httpx)",
    "awareness.sources.worker": "worker processes with time and memory limits",
    "awareness.mail.backends": "the mail backends: SMTP and the outbox folder",
    "awareness.demo": "sample feeds served on loopback from package data",
    "awareness.memory": "glibc's malloc, tuned once per process (ctypes)",
}

FORBIDDEN_LIBRARIES = ["httpx", "sqlalchemy", "alembic", "smtplib", "apscheduler", "uvicorn",
                       "starlette", "psycopg"]

# What the scan refuses, by the dotted name it resolves through the module's imports.
CLOCK = {f"datetime.datetime.{name}" for name in ("now", "utcnow", "today")} | {
    "datetime.date.today", "email.utils.formatdate", "email.utils.make_msgid"} | {
    f"time.{name}" for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
                                "perf_counter_ns", "process_time", "process_time_ns",
                                "localtime", "gmtime", "ctime", "sleep")}
ENVIRONMENT = {"os.environ", "os.environb", "os.getenv", "os.getenvb", "os.putenv",
               "os.unsetenv", "os.getcwd", "os.path.expanduser", "pathlib.Path.home",
               "pathlib.Path.cwd"}
FILES = {"open", "io.open", "os.open", "os.listdir", "os.scandir", "os.walk", "os.remove",
         "os.unlink", "os.mkdir", "os.makedirs", "os.rename", "os.replace", "os.stat",
         "os.path.exists", "os.path.isfile", "os.path.isdir", "os.path.getsize",
         "os.path.getmtime", "os.system", "os.popen", "jinja2.FileSystemLoader",
         "jinja2.PackageLoader",
         # The time-zone database is files on disk; settings resolve the zone once.
         "zoneinfo.ZoneInfo"}
# Modules whose only use is I/O: importing one at all is the violation.
IO_MODULES = {"shutil", "socket", "ssl", "subprocess", "urllib.request", "http.client",
              "http.server", "tempfile", "glob", "smtplib", "ftplib", "sqlite3",
              "multiprocessing", "importlib.resources"}
# pathlib's I/O methods. Names no other type uses are refused on any object; the ones other
# types share (a driver draft has its own ``open``) only where the module imports pathlib.
PATH_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "is_file",
                "is_dir", "mkdir", "unlink", "rglob", "touch", "rmdir", "symlink_to"}
SHARED_PATH_METHODS = {"open", "exists", "glob", "stat", "resolve"}

# Violations that stay until a rewrite under way elsewhere lands: (module, what, why). The
# lead removes each entry once that rewrite is merged; a stale entry fails the test below.
ALLOWED: dict[tuple[str, str], str] = {}


def core_modules() -> list[str]:
    """Every module of the package that the shell declared above does not claim."""
    return [name for name in modules()
            if not any(is_within(name, shell) for shell in SHELL)]


def violations(tree: ast.Module) -> set[str]:
    """The clock, environment, file and network accesses in one module's source."""
    names = _bound_names(tree)
    imported = _imported(tree)
    found = {f"import {io}" for module in imported for io in IO_MODULES if is_within(module, io)}
    uses_pathlib = any(is_within(module, "pathlib") for module in imported)
    in_annotations = _annotation_nodes(tree)  # a type named in a signature is not a use
    for node in ast.walk(tree):
        if id(node) in in_annotations:
            continue
        qualified = _qualified(node, names)
        if qualified in CLOCK | ENVIRONMENT | FILES:
            found.add(qualified)
        method = _called_method(node)
        if method in PATH_METHODS or (method in SHARED_PATH_METHODS and uses_pathlib):
            found.add(f".{method}()")
    return found


def _imported(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _annotation_nodes(tree: ast.Module) -> set[int]:
    annotations: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
    return {id(inner) for annotation in annotations if annotation is not None
            for inner in ast.walk(annotation)}


def _bound_names(tree: ast.Module) -> dict[str, str]:
    """Local name → the dotted name it stands for, from every import in the module."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _qualified(node: ast.AST, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return names.get(node.id, "open" if node.id == "open" else None)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, names)
        return f"{base}.{node.attr}" if base else None
    return None


def _called_method(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


# --- the checks -----------------------------------------------------------------------------

def test_the_core_is_found_from_the_package():
    core = core_modules()
    # The modules once left out of a hand-written list are in, and no shell module is.
    for name in ("sources.identity", "sources.redirects", "topics.presearch", "topics.explain",
                 "topics.examples", "drivers.members", "drivers.drafts", "drivers.plain",
                 "drivers.records", "sources.health_mail"):
        assert f"awareness.{name}" in core
    assert "awareness.cli.run" not in core and "awareness.sources.fetch" not in core


def test_every_shell_entry_names_a_module():
    found = modules()
    assert all(name in found for name in SHELL)


def test_core_imports_no_io_libraries():
    loaded = _libraries_loaded_by(core_modules())
    assert not loaded, f"core modules loaded I/O libraries: {loaded}"


def test_core_source_reads_no_clock_environment_files_or_network():
    paths = modules()
    found = {(name, what) for name in core_modules() for what in violations(parse(paths[name]))}
    unexpected = sorted(found - set(ALLOWED))
    assert not unexpected, ("the core does I/O; pass `now`, settings, text or templates in, "
                            f"or move the function into the shell: {unexpected}")
    assert set(ALLOWED) <= found, "an allowed violation is gone: remove it from ALLOWED"


def test_the_core_never_imports_the_shell():
    # A core module that imported a shell module would do its I/O by proxy.
    found = modules()
    core = set(core_modules())
    leaks = {(name, target) for name in core
             for target in imported_modules(name, parse(found[name]), set(found))
             if target not in core}
    assert not leaks, f"core modules import shell modules: {sorted(leaks)}"


# --- the checks notice what they are for ----------------------------------------------------

def _libraries_loaded_by(names: list[str]) -> dict[str, list[str]]:
    """In a fresh interpreter: each module → the forbidden libraries its import loaded."""
    code = textwrap.dedent(f"""
        import importlib, json, sys
        loaded = {{}}
        for name in {names!r}:
            before = set(sys.modules)
            importlib.import_module(name)
            new = [m for m in {FORBIDDEN_LIBRARIES!r} if m in sys.modules and m not in before]
            if new:
                loaded[name] = new
        print(json.dumps(loaded))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def test_the_check_would_notice_a_forbidden_import():
    # Guards the import check: the same probe sees an I/O library a shell module imports.
    assert _libraries_loaded_by(["awareness.sources.fetch"]) == {
        "awareness.sources.fetch": ["httpx"]}


@pytest.mark.parametrize(("source", "expected"), [
    # the clock
    ("from datetime import datetime\nstamp = datetime.now()", "datetime.datetime.now"),
    ("import datetime as dt\nstamp = dt.datetime.utcnow()", "datetime.datetime.utcnow"),
    ("from datetime import date\nday = date.today()", "datetime.date.today"),
    ("import time\nstarted = time.monotonic()", "time.monotonic"),
    ("from time import perf_counter as clock\nt = clock()", "time.perf_counter"),
    ("from datetime import UTC, datetime\ndef f(now=datetime.now): ...",
     "datetime.datetime.now"),
    # the environment
    ("import os\nhome = os.environ['HOME']", "os.environ"),
    ("import os\nhome = os.getenv('HOME')", "os.getenv"),
    ("from os import environ\nhome = environ.get('HOME')", "os.environ"),
    ("import os\nos.putenv('TZ', 'UTC')", "os.putenv"),
    ("from pathlib import Path\nhome = Path.home()", "pathlib.Path.home"),
    # files
    ("text = open('topics.toml').read()", "open"),
    ("from pathlib import Path\ntext = Path('a').read_text()", ".read_text()"),
    ("def save(path, data):\n    path.write_bytes(data)", ".write_bytes()"),
    ("from pathlib import Path\nok = Path('a').exists()", ".exists()"),
    ("from pathlib import Path\nfiles = list(Path('a').glob('*.toml'))", ".glob()"),
    ("import os\nnames = os.listdir('.')", "os.listdir"),
    ("from zoneinfo import ZoneInfo\nlondon = ZoneInfo('Europe/London')", "zoneinfo.ZoneInfo"),
    ("import shutil\nshutil.copy('a', 'b')", "import shutil"),
    ("import jinja2\nloader = jinja2.FileSystemLoader('templates')", "jinja2.FileSystemLoader"),
    ("from jinja2 import FileSystemLoader\nloader = FileSystemLoader('t')",
     "jinja2.FileSystemLoader"),
    ("from importlib import resources\ndata = resources.files('awareness')",
     "import importlib.resources"),
    # the network and other processes
    ("import socket\nsocket.getaddrinfo('example.org', 443)", "import socket"),
    ("from urllib.request import urlopen", "import urllib.request"),
    ("from urllib import request", "import urllib.request"),
    ("import subprocess\nsubprocess.run(['ls'])", "import subprocess"),
])
def test_the_scan_notices_each_kind_of_access(source: str, expected: str):
    assert expected in violations(ast.parse(source))


@pytest.mark.parametrize("source", [
    "from datetime import datetime, timedelta\ndef due(now: datetime) -> datetime:\n"
    "    return now + timedelta(days=1)",
    "from datetime import datetime\nstamp = datetime(2025, 1, 1).isoformat()",
    "from zoneinfo import ZoneInfo\ndef local(tz: ZoneInfo) -> ZoneInfo:\n    return tz",
    "def take(draft, field, value):\n    draft.open(field, value)",  # not pathlib's open
    "from pathlib import PurePosixPath\nname = PurePosixPath('a/b').name",
    "import os.path\nname = os.path.basename('a/b')",
    "environ = {}\nvalue = environ.get('HOME')",  # a local dict, not os.environ
])
def test_the_scan_leaves_pure_code_alone(source: str):
    assert violations(ast.parse(source)) == set()
