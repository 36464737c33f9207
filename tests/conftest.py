"""Shared fixtures: a pinned environment, a temporary database, a pinned clock; and two
suite-wide speed-ups (the CLI's command tree built once, `tmp_path` on a RAM disk).

Shared helper functions, the pinned time and zone, and `Run` (the in-process CLI) are in
helpers.py; fixtures shared by the tests of one folder are in that folder's conftest.py.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import helpers
import pg_support
import pytest
import typer.main
import typer.testing

# FIXED_NOW and CLINIC_TZ are also read from here by tests/cli/test_export.py.
from helpers import CLINIC_TZ, FIXED_NOW, Run

from ketacli.clock import CLOCK

# -- the two engines ----------------------------------------------------------------------
# Every test that can touch a database runs on SQLite and again on PostgreSQL (`[sqlite]`,
# `[postgresql]` in its id); KETACLI_TEST_ENGINE=sqlite|postgresql runs one. Tests of what
# only a file has (modes, WAL, the key beside the file, SQLCipher) are marked sqlite_only;
# tests of what only a server has (TCP, logins, server-side locks) postgresql_only.
# The pure rules (tests/domain, the clock, the protocol) run once.
_PURE = ("tests/domain/", "tests/test_clock.py", "tests/test_protocol.py")


def _engines() -> list[str]:
    wanted = os.environ.get("KETACLI_TEST_ENGINE", "").strip().lower()
    if wanted in ("sqlite", "postgresql"):
        return [wanted]
    return ["sqlite"] if pg_support.available() else ["sqlite", "postgresql"]


def pytest_configure(config):
    why = pg_support.available()
    if why and os.environ.get("CI") and os.environ.get("KETACLI_TEST_ENGINE") != "sqlite":
        raise pytest.UsageError(f"CI runs the suite on both engines, but PostgreSQL: {why}")


def pytest_report_header(config):
    why = pg_support.available()
    return [f"engines: {', '.join(_engines())}" + (f" (PostgreSQL: {why})" if why else "")]


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        pure = any(p in metafunc.definition.nodeid.replace(os.sep, "/") for p in _PURE)
        metafunc.parametrize("engine", ["sqlite"] if pure else _engines(), indirect=True,
                             scope="session")


def pytest_collection_modifyitems(config, items):
    keep, dropped = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        on_pg = spec is not None and spec.params.get("engine") == "postgresql"
        wrong = (item.get_closest_marker("sqlite_only") if on_pg
                 else item.get_closest_marker("postgresql_only"))
        (dropped if wrong else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def engine(request):
    """The engine of this part of the run: "sqlite" or "postgresql"."""
    helpers.ENGINE[0] = request.param
    yield request.param
    helpers.ENGINE[0] = "sqlite"


@pytest.fixture(autouse=True)
def pinned_env(monkeypatch, tmp_path, engine):
    """Every test: its own database, clinic zone, no colour, 80 columns, fixed clock."""
    for key in list(os.environ):
        if key.startswith("KETACLI_"):
            monkeypatch.delenv(key, raising=False)
    db = pg_support.fresh() if engine == "postgresql" else tmp_path / "clinic.db"
    monkeypatch.setenv("KETACLI_DB", str(db))
    monkeypatch.setenv("KETACLI_TZ", CLINIC_TZ)
    monkeypatch.setenv("KETACLI_CLINICIAN", "nurse.test")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "dumb")
    CLOCK.pin(FIXED_NOW)
    yield db
    CLOCK.pin(None)
    if engine == "postgresql":
        from ketacli.cli.settings import Settings, set_settings

        set_settings(Settings())  # the in-process CLI's last connection
        pg_support.release(db)


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory, engine):
    """The small demo clinic of the export tests (export_support.demo_clinic), built once
    per engine."""
    from export_support import demo_clinic

    return demo_clinic(tmp_path_factory)


@pytest.fixture
def demo(demo_template, db_path):
    """This test's database: a copy of the demo clinic."""
    helpers.copy_db(demo_template, db_path)
    return db_path


@pytest.fixture
def db_path(pinned_env):
    """This test's database: a file (SQLite), or a PgDb URL (PostgreSQL)."""
    return pinned_env


@pytest.fixture
def other_db(tmp_path, engine):
    """A second new database of this run's engine (a file, or another PostgreSQL database)."""
    if engine != "postgresql":
        yield tmp_path / "other.db"
        return
    db = pg_support.fresh()
    yield db
    from ketacli.cli.settings import Settings, set_settings

    set_settings(Settings())  # the in-process CLI's last connection
    pg_support.release(db)


# -- speed-ups (the behaviour is the same) ------------------------------------------
_COMMANDS: dict[int, tuple] = {}


def _cached_command(app):
    """Typer rebuilds the whole Click tree from annotations on every invoke (most of an
    in-process run's cost); the tree does not change, so build it once per app. The app
    is kept with its command, so its id cannot be reused by another."""
    if id(app) not in _COMMANDS:
        _COMMANDS[id(app)] = (app, typer.main.get_command(app))
    return _COMMANDS[id(app)][1]


@pytest.fixture(autouse=True)
def fast_cli(monkeypatch):
    """Every test: the `cli` fixture builds the Click command once per test run instead of
    once per invocation."""
    monkeypatch.setattr(typer.testing, "_get_command", _cached_command)


@pytest.fixture(name="tmp_path")
def ram_tmp_path(request, tmp_path_factory):
    """`tmp_path` (so the test database) on a RAM disk when there is one: the store commits
    with synchronous=FULL, and those fsyncs are most of the tests' wall time on a real
    disk. Elsewhere, where pytest's own `tmp_path` would be. Named after the test as
    pytest's is (some tests need paths longer than 80 columns)."""
    name = re.sub(r"[\W]", "_", request.node.name)[:30]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix=f"ketacli-{name}-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp(name, numbered=True)


@pytest.fixture
def umask_022():
    """Run with the common 0o022 umask, whatever the test runner has, and restore it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def cli():
    return Run()
