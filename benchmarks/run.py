"""Speed at clinic scale: ratios measured side by side in one run.

    python benchmarks/run.py [--patients 5000] [--reps 7] [--big PATH]
                             [--compare OTHER_KETACLI [--compare-only]]
                             [--engines sqlite,postgresql | --no-postgresql]
                             [--pg-url ADMIN_URL] [--exports csv,fhir-ndjson]

Builds (or reuses) a ten-year demo clinic and a one-patient clinic, then prints,
each as the median of --reps runs, the two sides of each ratio run in turn:
  1. start-up: `ketacli --help` vs a bare Typer app with one command (same venv)
  2. log-vitals, start-session, summary, followup due --json, trend:
     ten-year database vs one-patient database
  3. log-vitals on a one-patient database vs the bare Typer app
  4. report outcomes: ten-year vs one-patient
  5. peak RSS of every command on the ten-year database
  6. demo build throughput (through the commands' rules and Tx.record) vs plain
     sqlite3.executemany of the same rows
  7. board --json with 8 open sessions: ten-year vs a chairs-only clinic; the statements
     and query plan of one `board --watch` redraw
  8. PostgreSQL (unless --no-postgresql): the same two clinics copied into PostgreSQL
     (`ketacli db copy`, every row with its id), each command of 2, 4 and 7 timed on them
     in the same repetitions as the SQLite runs: PG ten-year vs PG one-patient (flat) and
     PG ten-year vs SQLite ten-year (target <= 1.5x); statements per command
  9. export throughput, SQLite and PostgreSQL ten-year clinic side by side: `export
     observations --format csv` and `export all --format fhir-ndjson --output DIR`, rows/s
The server: --pg-url or KETACLI_BENCH_PG (an admin URL: the script creates and drops its
own databases there), else one started here with the server's default settings
(benchmarks/pgserver.py) when initdb is installed, else the PostgreSQL figures are skipped.
With --compare, first log-vitals of this ketacli and another one (the version before a
change) and the bare command, interleaved, wall and CPU time.
Nothing here is a test: it prints figures for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
KETACLI = str(VENV_BIN / "ketacli")
BARE = '''import typer
app = typer.Typer()
@app.command()
def hello(name: str = "world"):
    print(name)
if __name__ == "__main__":
    app()
'''
TZ = "America/Chicago"


# the clinic key of each PostgreSQL database (a SQLite file's is beside it, DB.key)
KEY_FILES: dict[str, Path] = {}


def is_url(db) -> bool:
    return str(db).startswith("postgresql://")


def env_for(db: Path | str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLI_")}
    env.update(KETACLI_DB=str(db), KETACLI_TZ=TZ, KETACLI_CLINICIAN="bench", NO_COLOR="1",
               COLUMNS="80")
    if str(db) in KEY_FILES:
        env["KETACLI_KEY_FILE"] = str(KEY_FILES[str(db)])
    return env


def query(db: Path | str, sql: str, params=()) -> list[tuple]:
    """Rows of one read of the clinic at `db` (a file or a postgresql:// URL)."""
    if is_url(db):
        import psycopg

        with psycopg.connect(str(db), autocommit=True) as con:
            return con.execute(sql.replace("?", "%s"), params).fetchall()
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def copy_clinic(src: Path, dst: Path) -> None:
    """A working copy of a SQLite clinic, its key file with it (writes need the key)."""
    shutil.copy(src, dst)
    key = Path(f"{src}.key")
    if key.exists():
        shutil.copy(key, f"{dst}.key")


def run(argv: list[str], env: dict) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB, exit code) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        err = p.stderr.read().decode(errors="replace").strip()
        raise SystemExit(f"failed ({p.returncode}): {' '.join(argv)}\n{err}")
    p.stderr.close()
    return dt, usage.ru_maxrss, p.returncode


def medians_side_by_side(reps: int, *runs) -> list[tuple[float, int]]:
    """(median seconds, peak RSS KiB) of each (argv_fn, env, setup), run in turn within
    each repetition, so that a machine busy with other work slows each of them alike."""
    times: list[list[float]] = [[] for _ in runs]
    rss = [0 for _ in runs]
    for i in range(reps):
        for k, (argv_fn, env, setup) in enumerate(runs):
            if setup:
                setup(i)
            dt, kib, _ = run(argv_fn(i), env)
            times[k].append(dt)
            rss[k] = max(rss[k], kib)
    return [(statistics.median(t), r) for t, r in zip(times, rss, strict=True)]


def ok(cmd: list[str], env: dict) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def build_big(path: Path, patients: int) -> None:
    if path.exists():
        print(f"reusing {path}")
        return
    t0 = time.perf_counter()
    ok([KETACLI, "demo", "--patients", str(patients), "--seed", "11"], env_for(path))
    print(f"built the ten-year clinic in {time.perf_counter() - t0:.0f} s")


def build_small(path: Path) -> None:
    env = env_for(path)
    ok([KETACLI, "screen", "ONE-1", "--name", "One Patient", "--weight", "80", "--bp",
        "120/80", "--hr", "70", "--phq9", "2,2,2,2,2,2,2,1,0", "--at", "2026-01-05 09:00"], env)
    ok([KETACLI, "start-session", "ONE-1", "--bp", "120/80", "--hr", "70", "--at",
        "2026-01-05 10:00"], env)
    ok([KETACLI, "discharge", "--patient", "ONE-1", "--aldrete", "10", "--bp", "120/80",
        "--hr", "70", "--transport", "escort", "--at", "2026-01-05 11:30"], env)
    ok([KETACLI, "followup", "record", "ONE-1", "--phq9", "1,1,1,1,1,1,1,0,0", "--at",
        "2026-01-06 09:00"], env)
    ok([KETACLI, "start-session", "ONE-1", "--bp", "120/80", "--hr", "70", "--override",
        "benchmark: screening expired, reviewed", "--cosign", "bench.second"], env)


def counts(db: Path) -> dict:
    import sqlite3

    con = sqlite3.connect(db)
    out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
        "patients", "screenings", "sessions", "observations", "assessments", "followups", "audit")}
    con.close()
    return out


OPEN_SQL = ("SELECT s.id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM discharges d "
            "WHERE d.session_id = s.id) ORDER BY s.id DESC LIMIT 1")


def open_session(db: Path | str) -> tuple[int, int, str]:
    """(an open session, a session half-way through the table, its patient's MRN); a
    patient is started when the clinic has nobody in a chair."""
    rows = query(db, OPEN_SQL)
    if not rows:
        env = env_for(db)
        ok([KETACLI, "screen", "DEMO-BENCH-1", "--name", "Bench Open", "--weight", "75",
            "--bp", "120/80", "--hr", "70"], env)
        ok([KETACLI, "start-session", "DEMO-BENCH-1", "--bp", "120/80", "--hr", "70"], env)
        rows = query(db, OPEN_SQL)
    sid = rows[0][0]
    mid = query(db, "SELECT id, patient_id FROM sessions ORDER BY id LIMIT 1 OFFSET "
                    "(SELECT count(*) / 2 FROM sessions)")[0]
    mrn = query(db, "SELECT mrn FROM patients WHERE id = ?", (mid[1],))[0][0]
    return sid, mid[0], mrn


def insert_throughput(patients: int) -> tuple[float, float, int]:
    """Rows/s of the demo (charted through the commands' forms, domain decisions and
    Tx.record: each row sealed and audited) vs plain executemany of the same rows into
    the same schema (no rules, no audit)."""
    import sqlite3
    from datetime import UTC, datetime

    from ketacli import demo, protocol
    from ketacli.clock import zone
    from ketacli.store.db import Actor, open_store
    from ketacli.store.sandbox import TABLES

    proto, tz = protocol.load(), zone(TZ)
    tmp = Path(tempfile.mkdtemp())
    store = open_store(tmp / "ours.db", Actor("bench", "bench"))
    plan = demo.Plan(5, patients, datetime(2026, 11, 27, 15, tzinfo=UTC))
    t0 = time.perf_counter()
    demo.build(store, proto, tz, plan)
    ours = time.perf_counter() - t0
    rows = {t: store.all(f"SELECT * FROM {t} ORDER BY id") for t in TABLES}
    store.close()
    nrows = sum(len(r) for r in rows.values())
    plain_store = open_store(tmp / "plain.db", Actor("bench", "bench"))
    plain_store.close()
    con = sqlite3.connect(tmp / "plain.db")
    con.execute("PRAGMA synchronous = FULL")
    batches = max(1, -(-patients // demo.BATCH))  # as many transactions as the demo's
    t0 = time.perf_counter()
    for b in range(batches):
        for table in TABLES:
            n = -(-len(rows[table]) // batches)
            part = rows[table][b * n:(b + 1) * n]
            if part:
                cols = part[0].keys()
                con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                f"({', '.join('?' for _ in cols)})", [tuple(r) for r in part])
        con.commit()
    plain = time.perf_counter() - t0
    con.close()
    shutil.rmtree(tmp)
    return nrows / ours, nrows / plain, nrows


def compare(work: Path, bare: Path, other: str, reps: int) -> None:
    """log-vitals of this ketacli and `other` on one-patient databases, and the bare Typer
    app running its command, run in turn (so a busy machine slows all three alike):
    medians of wall time and of CPU time (user + system, of the process)."""
    global KETACLI
    mine = KETACLI
    dbs = {}
    for name, exe in (("this", mine), ("other", other)):
        KETACLI = exe
        dbs[name] = work / f"cmp-{name}.db"
        build_small(dbs[name])
    KETACLI = mine
    vit = ["--bp", "128/84", "--hr", "80", "--spo2", "97"]
    argv = {"this": [mine, "log-vitals", "2", *vit], "other": [other, "log-vitals", "2", *vit],
            "bare": [sys.executable, str(bare), "--name", "x"]}
    wall: dict[str, list[float]] = {k: [] for k in argv}
    cpu: dict[str, list[float]] = {k: [] for k in argv}
    for _ in range(reps):
        for k, a in argv.items():
            env = env_for(dbs.get(k, work / "none.db"))
            t0 = time.perf_counter()
            p = subprocess.Popen(a, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(p.pid, 0)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"failed: {' '.join(map(str, a))}")
    med = {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in argv}
    print(f"\nlog-vitals, this vs {other} vs the bare command (median of {reps}, interleaved)")
    for k, (w, c) in med.items():
        print(f"   {k:<6} wall {w * 1000:6.0f} ms  cpu {c * 1000:6.0f} ms  "
              f"ratio to bare: wall {w / med['bare'][0]:.2f}x, cpu {c / med['bare'][1]:.2f}x")


# -- PostgreSQL -------------------------------------------------------------------------------
COUNTING = '''import atexit, sqlite3, sys
n = [0]
def count(*_):
    n[0] += 1
def wrap(cls, name):
    orig = getattr(cls, name)
    def counted(self, *a, **k):
        count()
        return orig(self, *a, **k)
    setattr(cls, name, counted)
try:
    import psycopg
except ImportError:
    pass
else:
    wrap(psycopg.Cursor, "execute")
    wrap(psycopg.Cursor, "executemany")
    wrap(psycopg.ServerCursor, "execute")
_connect = sqlite3.connect
def connect(*a, **k):
    con = _connect(*a, **k)
    con.set_trace_callback(count)
    return con
sqlite3.connect = connect
atexit.register(lambda: sys.stderr.write(f"\\nBENCH_STATEMENTS {n[0]}\\n"))
from ketacli.cli.app import run
sys.argv[0] = "ketacli"
run()
'''


def statements(argv: list[str], env: dict) -> int:
    """Statements one run of the command sends to the database: psycopg cursor executes
    (each a round trip to the server; a server-side cursor's fetches not counted) or
    SQLite statements (sqlite3 trace callback), counted in a wrapper of the console script."""
    p = subprocess.run([sys.executable, "-c", COUNTING, *argv[1:]], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    for line in reversed(p.stderr.splitlines()):
        if line.startswith("BENCH_STATEMENTS "):
            return int(line.split()[1])
    raise SystemExit(f"failed to count statements: {' '.join(argv)}\n{p.stderr}")


class Postgres:
    """The server of the PostgreSQL figures and the databases this run makes on it (dropped
    at the end); a server started here (initdb, default settings) is stopped at the end."""

    def __init__(self, admin: str, folder: Path | None) -> None:
        self.admin, self.folder, self.made = admin, folder, []

    @classmethod
    def open(cls, url: str | None, work: Path) -> Postgres | None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            print("PostgreSQL figures skipped: psycopg is not installed")
            return None
        if url:
            return cls(url, None)
        import pgserver

        if not pgserver.available():
            print("PostgreSQL figures skipped: no --pg-url / KETACLI_BENCH_PG and no initdb")
            return None
        # its own folder: the server's account must reach it (work is the caller's, 0700)
        folder = Path(tempfile.mkdtemp(prefix="ketacli-bench-pg-"))
        return cls(pgserver.start(folder), folder)

    def url(self, name: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.admin)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as con:
            con.execute(statement)

    def create(self, name: str, template: str | None = None) -> str:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return self.url(name)

    def copy_of(self, sqlite_db: Path, name: str, work: Path) -> str:
        """A new database holding the SQLite clinic, by `ketacli db copy` (its key copied
        to work/NAME.key, the database's KETACLI_KEY_FILE)."""
        url = self.create(name)
        key = work / f"{name}.key"
        shutil.copy(f"{sqlite_db}.key", key)
        os.chmod(key, 0o600)
        KEY_FILES[url] = key
        env = env_for(sqlite_db)
        env["KETACLI_KEY_FILE"] = str(key)  # the same key: the source's and the copy's
        t0 = time.perf_counter()
        ok([KETACLI, "db", "copy", str(sqlite_db), url], env)
        print(f"copied {sqlite_db.name} into PostgreSQL database {name} "
              f"in {time.perf_counter() - t0:.0f} s")
        return url

    def clone(self, src_url: str, name: str) -> str:
        """CREATE DATABASE NAME TEMPLATE src: a working copy (no client may be connected)."""
        url = self.create(name, template=src_url.rsplit("/", 1)[1])
        KEY_FILES[url] = KEY_FILES[src_url]
        return url

    def describe(self) -> str:
        import pgserver

        version, changed = pgserver.settings(self.admin)
        origin = "started by this script" if self.folder else "given by --pg-url"
        lines = [f"PostgreSQL {version} ({origin}); settings not at their built-in default:"]
        lines += [f"   {name} = {value} ({source})" for name, value, source in changed]
        return "\n".join(lines)

    def close(self) -> None:
        import contextlib

        import psycopg

        for name in self.made:
            with contextlib.suppress(psycopg.Error):
                self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self.folder:
            import pgserver

            pgserver.stop(self.folder)
            shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--big", type=Path, default=Path(tempfile.gettempdir()) / "ketacli-bench-big.db")
    ap.add_argument("--compare", metavar="KETACLI", help="another ketacli (e.g. the previous "
                    "version's venv/bin/ketacli): log-vitals of both and the bare command, "
                    "interleaved, wall and CPU time")
    ap.add_argument("--compare-only", action="store_true", help="only the --compare figures")
    ap.add_argument("--engines", default="sqlite,postgresql",
                    help="sqlite,postgresql (default) or sqlite: whether the PostgreSQL figures "
                    "(8, 9) are taken")
    ap.add_argument("--no-postgresql", action="store_true", help="same as --engines sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("KETACLI_BENCH_PG"),
                    help="admin URL of a PostgreSQL server (default: KETACLI_BENCH_PG; else one "
                    "is started with the default settings if initdb is installed)")
    ap.add_argument("--exports", default="csv,fhir-ndjson",
                    help="exports timed in 9: csv (observations), fhir-ndjson (export all to a "
                    "directory), or none")
    ap.add_argument("--export-reps", type=int, default=3,
                    help="runs of the CSV export in 9 (the FHIR export runs once per engine)")
    args = ap.parse_args()
    engines = {e.strip() for e in args.engines.split(",") if e.strip()}
    if engines - {"sqlite", "postgresql"} or "sqlite" not in engines:
        ap.error("--engines: sqlite or sqlite,postgresql (PostgreSQL is measured against it)")
    want_pg = "postgresql" in engines and not args.no_postgresql
    work = Path(tempfile.mkdtemp(prefix="ketacli-bench-"))
    bare = work / "bare.py"
    bare.write_text(BARE)
    if args.compare:
        compare(work, bare, args.compare, max(args.reps, 15))
        if args.compare_only:
            shutil.rmtree(work)
            return
    build_big(args.big, args.patients)
    print("ten-year database rows:", counts(args.big))
    pg = None
    try:
        pg = Postgres.open(args.pg_url, work) if want_pg else None
        measure(args, work, bare, pg)
    finally:
        if pg:
            pg.close()
        shutil.rmtree(work, ignore_errors=True)


def measure(args, work: Path, bare: Path, pg: Postgres | None) -> None:
    reps = args.reps
    results = []

    def line(label: str, a: float, b: float, target: str = "") -> None:
        ratio = a / b
        results.append((label, a, b, ratio, target))
        print(f"{label:<44} {a * 1000:8.0f} ms {b * 1000:8.0f} ms  {ratio:5.2f}x  {target}")

    env0 = env_for(work / "none.db")
    # working copies: the benchmark writes
    big = work / "big.db"
    copy_clinic(args.big, big)
    small = work / "small.db"
    build_small(small)
    big_open, big_mid, big_mrn = open_session(big)
    small_open, _, _ = open_session(small)
    # the same two clinics on PostgreSQL: every row copied with its id, so the session ids
    # and MRNs found above name the same records there
    dbs: dict[str, Path | str] = {"big": big, "small": small}
    pg_src = None
    if pg:
        print(pg.describe())
        pg_src = pg.copy_of(big, "ketacli_bench_big_src", work)
        dbs["pg big"] = pg.clone(pg_src, "ketacli_bench_big")
        dbs["pg small"] = pg.copy_of(small, "ketacli_bench_small", work)

    head = f"measure (median of {reps})"
    print(f"\n{head:<44} {'this':>11} {'baseline':>11}  ratio  target")
    (t_help, _), (t_bare, _) = medians_side_by_side(
        reps, (lambda i: [KETACLI, "--help"], env0, None),
        (lambda i: [sys.executable, str(bare), "--help"], env0, None))
    line("1. ketacli --help vs bare Typer --help", t_help, t_bare, "<= 1.2x")

    rss: dict[str, int] = {}
    pg_rows: list[tuple[str, float, float, float, int]] = []  # label, pg big, pg small, sqlite big
    hot: list[tuple[str, object]] = []  # (label, argv_fn) of each command, for the counts

    def pair(label: str, argv_fn, target="<= 1.2x", setup_fn=None):
        """argv_fn(i, side) and setup_fn(i, side), side one of dbs' keys: the ten-year and
        the one-patient clinic on SQLite (and on PostgreSQL), all in turn in each rep."""
        sides = list(dbs)
        runs = [((lambda i, s=s: argv_fn(i, s)), env_for(dbs[s]),
                 (lambda i, s=s: setup_fn(i, s)) if setup_fn else None) for s in sides]
        res = dict(zip(sides, medians_side_by_side(reps, *runs), strict=True))
        rss[label] = res["big"][1]
        line(label, res["big"][0], res["small"][0], target)
        hot.append((label, argv_fn))
        if pg:
            pg_rows.append((label, res["pg big"][0], res["pg small"][0], res["big"][0],
                            res["pg big"][1]))

    opened = {"big": big_open, "small": small_open, "pg big": big_open, "pg small": small_open}
    vit = ["--bp", "128/84", "--hr", "80", "--spo2", "97"]
    pair("2. log-vitals: ten-year vs one patient",
         lambda i, s: [KETACLI, "log-vitals", str(opened[s]), *vit])

    def tag(s: str) -> str:
        return s.replace(" ", "")

    def prep_patient(i, s):
        ok([KETACLI, "screen", f"DEMO-B-{tag(s)}-{i}", "--name", "Bench", "--weight", "75",
            "--bp", "120/80", "--hr", "70"], env_for(dbs[s]))

    pair("2. start-session: ten-year vs one patient",
         lambda i, s: [KETACLI, "start-session", f"DEMO-B-{tag(s)}-{i}", "--bp", "120/80",
                       "--hr", "70"], setup_fn=prep_patient)
    pair("2. summary: ten-year vs one patient",
         lambda i, s: [KETACLI, "summary", str(big_mid if "big" in s else 1)])
    pair("2. followup due --json: ten-year vs one patient",
         lambda i, s: [KETACLI, "followup", "due", "--json"])
    pair("2. trend: ten-year vs one patient",
         lambda i, s: [KETACLI, "trend", big_mrn if "big" in s else "ONE-1"])
    # The bare app running its command pays what any Typer 0.29 command pays (pydantic
    # coercion of parameters); its --help does not. Both baselines are printed.
    vit_small = [KETACLI, "log-vitals", str(small_open), *vit]
    (t_vit_small, _), (t_bare_cmd, _) = medians_side_by_side(
        reps, (lambda i: vit_small, env_for(small), None),
        (lambda i: [sys.executable, str(bare), "--name", "x"], env0, None))
    line("3. log-vitals (one patient) vs bare command", t_vit_small, t_bare_cmd, "<= 1.4x")
    line("3. log-vitals (one patient) vs bare --help", t_vit_small, t_bare, "(info)")
    pair("4. report outcomes: ten-year vs one patient",
         lambda i, s: [KETACLI, "report", "outcomes", "--json"], target="record")
    print("\n5. peak RSS on the ten-year database (target < 100 MiB)")
    for label, kib in rss.items():
        name = label.split(":")[0][3:]
        print(f"   {name:<30} {kib / 1024:6.1f} MiB")
    board = board_figures(args.big, reps, work, pg, pg_src)
    if pg:
        pg_rows.append(board)
        pg_figures(pg_rows, hot, dbs, reps)
        export_figures(big, dbs["pg big"], args)
    # last: it builds a clinic in this process, and a child's ru_maxrss counts what it
    # was forked from, so the peak RSS of every command run after it would be this one's
    print("\n6. demo build throughput (charted, sealed, audited) vs plain executemany, same rows")
    n_pat = min(args.patients, 1000)
    ours, plain, nrows = insert_throughput(n_pat)
    print(f"   {nrows:,} rows of {n_pat} patients: ours {ours:,.0f} rows/s, plain "
          f"{plain:,.0f} rows/s, ratio {ours / plain:.2f} (target >= 0.5)")


def pg_figures(rows, hot, dbs, reps: int) -> None:
    print(f"\n8. PostgreSQL, median of {reps}, each rep run in turn with the SQLite runs above")
    print(f"   {'command':<24} {'PG 10-year':>10} {'PG 1-pat':>9} {'flat':>6} "
          f"{'SQLite 10-y':>11} {'PG/SQLite':>9} {'PG RSS':>8}")
    for label, tb, ts, tsq, kib in rows:
        name = label.split(":")[0].split(". ", 1)[-1]
        print(f"   {name:<24} {tb * 1000:7.0f} ms {ts * 1000:6.0f} ms {tb / ts:5.2f}x "
              f"{tsq * 1000:8.0f} ms {tb / tsq:8.2f}x {kib / 1024:5.1f} MiB")
    print("   targets: flat (PG ten-year / PG one-patient) <= 1.2x; PG / SQLite ten-year <= 1.5x")
    print("   statements per run on the ten-year clinic (SQLite / PostgreSQL):")
    for label, argv_fn in hot:
        name = label.split(":")[0].split(". ", 1)[-1]
        i = 10_000  # a start-session needs a patient screened for it
        if "start-session" in label:
            for s in ("big", "pg big"):
                ok([KETACLI, "screen", f"DEMO-B-{s.replace(' ', '')}-{i}", "--name", "Bench",
                    "--weight", "75", "--bp", "120/80", "--hr", "70"], env_for(dbs[s]))
        n_sq = statements(argv_fn(i, "big"), env_for(dbs["big"]))
        n_pg = statements(argv_fn(i, "pg big"), env_for(dbs["pg big"]))
        print(f"   {name:<24} {n_sq:4d} / {n_pg:4d}")


def export_figures(big: Path, pg_big: str, args) -> None:
    """9. Export throughput of the ten-year clinic on both engines, runs interleaved."""
    wanted = {e.strip() for e in args.exports.split(",")} - {"none", ""}
    if not wanted:
        return
    n = {t: query(big, f"SELECT count(*) FROM {t}")[0][0] for t in (
        "patients", "screenings", "sessions", "observations", "events", "assessments",
        "followups", "audit")}
    out = Path(tempfile.mkdtemp(prefix="ketacli-bench-export-"))
    sides = {"SQLite": big, "PostgreSQL": pg_big}
    print("\n9. export throughput, ten-year clinic (rows/s of the table rows read)")
    try:
        if "csv" in wanted:
            times: dict[str, list[float]] = {k: [] for k in sides}
            peak: dict[str, int] = dict.fromkeys(sides, 0)
            for _ in range(args.export_reps):
                for k, db in sides.items():
                    dt, kib, _ = run([KETACLI, "export", "observations", "--format", "csv",
                                      "--output", str(out / f"obs-{k}.csv")], env_for(db))
                    times[k].append(dt)
                    peak[k] = max(peak[k], kib)
            med = {k: statistics.median(t) for k, t in times.items()}
            for k in sides:
                print(f"   export observations --format csv, {k:<10} {med[k]:7.2f} s "
                      f"{n['observations'] / med[k]:10,.0f} rows/s  {peak[k] / 1024:5.1f} MiB"
                      f"  (runs {', '.join(f'{t:.2f}' for t in times[k])})")
            print(f"   PostgreSQL / SQLite time: {med['PostgreSQL'] / med['SQLite']:.2f}x "
                  f"({n['observations']:,} observations, median of {args.export_reps})")
        if "fhir-ndjson" in wanted:
            total = sum(n.values())
            spent = {}
            for k, db in sides.items():
                target = out / f"fhir-{k}"
                dt, kib, _ = run([KETACLI, "export", "all", "--format", "fhir-ndjson",
                                  "--output", f"{target}/"], env_for(db))
                size = sum(p.stat().st_size for p in target.iterdir())
                spent[k] = dt
                print(f"   export all --format fhir-ndjson, {k:<10} {dt:7.1f} s "
                      f"{total / dt:10,.0f} rows/s  {kib / 1024:5.1f} MiB  "
                      f"{size / 2**20:,.0f} MiB out")
                shutil.rmtree(target)
            print(f"   PostgreSQL / SQLite time: {spent['PostgreSQL'] / spent['SQLite']:.2f}x "
                  f"({total:,} rows of 8 tables, one run each)")
    finally:
        shutil.rmtree(out, ignore_errors=True)


BOARD_OPEN = 8  # chairs running at once


def _open_count(db: Path | str) -> int:
    if is_url(db):
        if not query(db, "SELECT to_regclass('open_sessions') IS NOT NULL")[0][0]:
            return 0
    elif not Path(db).exists():
        return 0
    return query(db, "SELECT count(*) FROM open_sessions")[0][0]


def _fill_chairs(db: Path | str, prefix: str) -> int:
    """Start sessions for new patients until BOARD_OPEN are open; returns how many are."""
    env = env_for(db)
    n = _open_count(db)
    for i in range(n, BOARD_OPEN):
        mrn = f"{prefix}-{i}"
        ok([KETACLI, "screen", mrn, "--name", "Board Bench", "--weight", "75", "--bp",
            "120/80", "--hr", "70"], env)
        ok([KETACLI, "start-session", mrn, "--bp", "120/80", "--hr", "70", "--chair",
            f"Chair {i + 1}"], env)
    return max(n, BOARD_OPEN)


def _redraw_cost(db: Path | str) -> tuple[int, list[str], float]:
    """One `board --watch` redraw in-process: (statements run, plan lines, seconds)."""
    from ketacli import protocol
    from ketacli.cli.board import _snapshot
    from ketacli.store.db import Actor, open_store

    if is_url(db):
        os.environ["KETACLI_KEY_FILE"] = str(KEY_FILES[str(db)])
    try:
        store = open_store(db if is_url(db) else Path(db), Actor("bench", "bench"),
                           create=False)
    finally:
        os.environ.pop("KETACLI_KEY_FILE", None)
    proto = protocol.load()
    _snapshot(store, proto)  # warm the page cache
    statements: list[tuple[str, tuple]] = []
    if is_url(db):
        conn = store.conn
        execute = conn.execute

        def traced(sql, params=()):
            statements.append((sql, tuple(params)))
            return execute(sql, params)

        conn.execute = traced
        t0 = time.perf_counter()
        _snapshot(store, proto)
        dt = time.perf_counter() - t0
        del conn.execute
        plan = [row[0] for s, p in statements for row in conn.execute("EXPLAIN " + s, p)]
    else:
        store.conn.set_trace_callback(lambda s: statements.append((s, ())))
        t0 = time.perf_counter()
        _snapshot(store, proto)
        dt = time.perf_counter() - t0
        store.conn.set_trace_callback(None)
        plan = [row[3] for s, _ in statements
                for row in store.conn.execute("EXPLAIN QUERY PLAN " + s)]
    store.close()
    return len(statements), plan, dt


def board_figures(big_src: Path, reps: int, work: Path, pg: Postgres | None = None,
                  pg_src: str | None = None):
    """7. The same board of 8 open sessions on the ten-year clinic and on a clinic that
    holds nothing but those 8 chairs (one patient each, no history); with `pg`, the same
    two on PostgreSQL (the ten-year one a clone of `pg_src`), all four alternated.
    Returns the PostgreSQL row of figure 8 (or None)."""
    big, small = work / "board-big.db", work / "board-small.db"
    copy_clinic(big_src, big)
    # the ten-year clinic is a demo database: its extra patients are demo patients too
    n_big, n_small = _fill_chairs(big, "DEMO-BB"), _fill_chairs(small, "BS")
    print(f"\n7. board with open sessions: ten-year {n_big}, chairs-only clinic {n_small}")
    boards: dict[str, Path | str] = {"ten-year": big, "chairs only": small}
    if pg and pg_src:
        boards["PG ten-year"] = pg.clone(pg_src, "ketacli_bench_board_big")
        boards["PG chairs only"] = pg.create("ketacli_bench_board_small")
        key = work / "ketacli_bench_board_small.key"
        KEY_FILES[boards["PG chairs only"]] = key
        n_pgb = _fill_chairs(boards["PG ten-year"], "DEMO-BB")
        n_pgs = _fill_chairs(boards["PG chairs only"], "BS")
        print(f"   on PostgreSQL: ten-year {n_pgb}, chairs-only clinic {n_pgs}")
    # alternated, after a warm-up of each, so a load spike on a shared machine hits all
    argv = [KETACLI, "board", "--json"]
    times: dict[str, list[float]] = {k: [] for k in boards}
    peak = dict.fromkeys(boards, 0)
    for db in boards.values():
        run(argv, env_for(db))
    for _ in range(reps):
        for k, db in boards.items():
            dt, kib, _ = run(argv, env_for(db))
            times[k].append(dt)
            peak[k] = max(peak[k], kib)
    med = {k: statistics.median(t) for k, t in times.items()}
    tb, ts = med["ten-year"], med["chairs only"]
    print(f"   board --json: ten-year {tb * 1000:.0f} ms, chairs only {ts * 1000:.0f} ms, "
          f"ratio {tb / ts:.2f}x (target <= 1.2x)")
    if "PG ten-year" in med:
        pb, ps = med["PG ten-year"], med["PG chairs only"]
        print(f"   on PostgreSQL: ten-year {pb * 1000:.0f} ms, chairs only {ps * 1000:.0f} ms, "
              f"ratio {pb / ps:.2f}x; PG / SQLite ten-year {pb / tb:.2f}x")
    for label, db in boards.items():
        count, plan, dt = _redraw_cost(db)
        if is_url(db):
            scans = [p.strip() for p in plan if "Seq Scan" in p and "open_sessions" not in p]
        else:
            # SCAN o / SCAN e read the co-routines of one session's rows, not the tables
            scans = [p for p in plan
                     if p.startswith("SCAN") and p.split()[1] not in ("os", "o", "e")]
        print(f"   --watch redraw, {label}: {count} statement(s), {dt * 1000:.1f} ms; "
              f"full scans other than open_sessions: {scans or 'none'}")
        if label.endswith("ten-year"):
            for p in plan:
                print(f"      plan: {p}")
    if "PG ten-year" not in med:
        return None
    return ("7. board --json: ten-year vs chairs only", med["PG ten-year"],
            med["PG chairs only"], tb, peak["PG ten-year"])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))  # pgserver
    main()
