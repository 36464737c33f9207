"""Speed at clinic scale: ratios measured side by side in one run.

    python benchmarks/run.py [--patients 5000] [--reps 7] [--big PATH]
                             [--compare OTHER_KETACLI [--compare-only]]

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


def env_for(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLI_")}
    env.update(KETACLI_DB=str(db), KETACLI_TZ=TZ, KETACLI_CLINICIAN="bench", NO_COLOR="1",
               COLUMNS="80")
    return env


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


def open_session(db: Path) -> tuple[int, int, str]:
    """(an open session, a session half-way through the table, its patient's MRN); a
    patient is started when the clinic has nobody in a chair."""
    import sqlite3

    con = sqlite3.connect(db)
    row = con.execute(OPEN_SQL).fetchone()
    if row is None:
        env = env_for(db)
        ok([KETACLI, "screen", "DEMO-BENCH-1", "--name", "Bench Open", "--weight", "75",
            "--bp", "120/80", "--hr", "70"], env)
        ok([KETACLI, "start-session", "DEMO-BENCH-1", "--bp", "120/80", "--hr", "70"], env)
        row = con.execute(OPEN_SQL).fetchone()
    sid = row[0]
    mid = con.execute("SELECT id, patient_id FROM sessions ORDER BY id LIMIT 1 OFFSET "
                      "(SELECT count(*) / 2 FROM sessions)").fetchone()
    mrn = con.execute("SELECT mrn FROM patients WHERE id = ?", (mid[1],)).fetchone()[0]
    con.close()
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--big", type=Path, default=Path(tempfile.gettempdir()) / "ketacli-bench-big.db")
    ap.add_argument("--compare", metavar="KETACLI", help="another ketacli (e.g. the previous "
                    "version's venv/bin/ketacli): log-vitals of both and the bare command, "
                    "interleaved, wall and CPU time")
    ap.add_argument("--compare-only", action="store_true", help="only the --compare figures")
    args = ap.parse_args()
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
    reps = args.reps
    results = []

    def line(label: str, a: float, b: float, target: str = "") -> None:
        ratio = a / b
        results.append((label, a, b, ratio, target))
        print(f"{label:<44} {a * 1000:8.0f} ms {b * 1000:8.0f} ms  {ratio:5.2f}x  {target}")

    head = f"measure (median of {reps})"
    print(f"\n{head:<44} {'this':>11} {'baseline':>11}  ratio  target")
    env0 = env_for(work / "none.db")
    (t_help, _), (t_bare, _) = medians_side_by_side(
        reps, (lambda i: [KETACLI, "--help"], env0, None),
        (lambda i: [sys.executable, str(bare), "--help"], env0, None))
    line("1. ketacli --help vs bare Typer --help", t_help, t_bare, "<= 1.2x")

    rss: dict[str, int] = {}

    def pair(label: str, argv_big, argv_small, big_db: Path, small_db: Path, target="<= 1.2x",
             setup_big=None, setup_small=None):
        (tb, kb), (ts, _) = medians_side_by_side(
            reps, (argv_big, env_for(big_db), setup_big),
            (argv_small, env_for(small_db), setup_small))
        rss[label] = kb
        line(label, tb, ts, target)
        return tb, ts

    # working copies: the benchmark writes
    big = work / "big.db"
    shutil.copy(args.big, big)
    small = work / "small.db"
    build_small(small)
    big_open, big_mid, big_mrn = open_session(big)
    small_open, _, _ = open_session(small)
    vit = ["log-vitals", "--bp", "128/84", "--hr", "80", "--spo2", "97"]
    pair("2. log-vitals: ten-year vs one patient",
                  lambda i: [KETACLI, *vit[:1], str(big_open), *vit[1:]],
                  lambda i: [KETACLI, *vit[:1], str(small_open), *vit[1:]], big, small)

    def prep_patient(db: Path):
        def setup(i):
            ok([KETACLI, "screen", f"DEMO-B-{db.stem}-{i}", "--name", "Bench", "--weight", "75",
                "--bp", "120/80", "--hr", "70"], env_for(db))
        return setup

    pair("2. start-session: ten-year vs one patient",
         lambda i: [KETACLI, "start-session", f"DEMO-B-big-{i}", "--bp", "120/80", "--hr", "70"],
         lambda i: [KETACLI, "start-session", f"DEMO-B-small-{i}", "--bp", "120/80", "--hr", "70"],
         big, small, setup_big=prep_patient(big), setup_small=prep_patient(small))
    pair("2. summary: ten-year vs one patient",
         lambda i: [KETACLI, "summary", str(big_mid)], lambda i: [KETACLI, "summary", "1"],
         big, small)
    pair("2. followup due --json: ten-year vs one patient",
         lambda i: [KETACLI, "followup", "due", "--json"],
         lambda i: [KETACLI, "followup", "due", "--json"], big, small)
    pair("2. trend: ten-year vs one patient",
         lambda i: [KETACLI, "trend", big_mrn], lambda i: [KETACLI, "trend", "ONE-1"], big, small)
    # The bare app running its command pays what any Typer 0.29 command pays (pydantic
    # coercion of parameters); its --help does not. Both baselines are printed.
    vit_small = [KETACLI, "log-vitals", str(small_open), *vit[1:]]
    (t_vit_small, _), (t_bare_cmd, _) = medians_side_by_side(
        reps, (lambda i: vit_small, env_for(small), None),
        (lambda i: [sys.executable, str(bare), "--name", "x"], env0, None))
    line("3. log-vitals (one patient) vs bare command", t_vit_small, t_bare_cmd, "<= 1.4x")
    line("3. log-vitals (one patient) vs bare --help", t_vit_small, t_bare, "(info)")
    pair("4. report outcomes: ten-year vs one patient",
         lambda i: [KETACLI, "report", "outcomes", "--json"],
         lambda i: [KETACLI, "report", "outcomes", "--json"], big, small, target="record")
    print("\n5. peak RSS on the ten-year database (target < 100 MiB)")
    for label, kib in rss.items():
        name = label.split(":")[0][3:]
        print(f"   {name:<30} {kib / 1024:6.1f} MiB")
    print("\n6. demo build throughput (charted, sealed, audited) vs plain executemany, same rows")
    n_pat = min(args.patients, 1000)
    ours, plain, nrows = insert_throughput(n_pat)
    print(f"   {nrows:,} rows of {n_pat} patients: ours {ours:,.0f} rows/s, plain "
          f"{plain:,.0f} rows/s, ratio {ours / plain:.2f} (target >= 0.5)")
    board_figures(args.big, reps, work)
    shutil.rmtree(work)


BOARD_OPEN = 8  # chairs running at once


def _fill_chairs(db: Path, prefix: str) -> int:
    """Start sessions for new patients until BOARD_OPEN are open; returns how many are."""
    import sqlite3

    env = env_for(db)
    n = 0
    if db.exists():
        con = sqlite3.connect(db)
        n = con.execute("SELECT count(*) FROM open_sessions").fetchone()[0]
        con.close()
    for i in range(n, BOARD_OPEN):
        mrn = f"{prefix}-{i}"
        ok([KETACLI, "screen", mrn, "--name", "Board Bench", "--weight", "75", "--bp",
            "120/80", "--hr", "70"], env)
        ok([KETACLI, "start-session", mrn, "--bp", "120/80", "--hr", "70", "--chair",
            f"Chair {i + 1}"], env)
    return max(n, BOARD_OPEN)


def _redraw_cost(db: Path) -> tuple[int, list[str], float]:
    """One `board --watch` redraw in-process: (statements run, plan lines, seconds)."""
    from ketacli import protocol
    from ketacli.cli.board import _snapshot
    from ketacli.store.db import Actor, open_store

    store = open_store(db, Actor("bench", "bench"), create=False)
    proto = protocol.load()
    _snapshot(store, proto)  # warm the page cache
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    t0 = time.perf_counter()
    _snapshot(store, proto)
    dt = time.perf_counter() - t0
    store.conn.set_trace_callback(None)
    plan = [row[3] for s in statements for row in store.conn.execute("EXPLAIN QUERY PLAN " + s)]
    store.close()
    return len(statements), plan, dt


def board_figures(big_src: Path, reps: int, work: Path) -> None:
    """7. The same board of 8 open sessions on the ten-year clinic and on a clinic that
    holds nothing but those 8 chairs (one patient each, no history)."""
    big, small = work / "board-big.db", work / "board-small.db"
    shutil.copy(big_src, big)
    # the ten-year clinic is a demo database: its extra patients are demo patients too
    n_big, n_small = _fill_chairs(big, "DEMO-BB"), _fill_chairs(small, "BS")
    print(f"\n7. board with open sessions: ten-year {n_big}, chairs-only clinic {n_small}")
    # alternated, after a warm-up of each, so a load spike on a shared machine hits both
    argv = [KETACLI, "board", "--json"]
    run(argv, env_for(big))
    run(argv, env_for(small))
    times_big, times_small = [], []
    for _ in range(reps):
        times_big.append(run(argv, env_for(big))[0])
        times_small.append(run(argv, env_for(small))[0])
    tb, ts = statistics.median(times_big), statistics.median(times_small)
    print(f"   board --json: ten-year {tb * 1000:.0f} ms, chairs only {ts * 1000:.0f} ms, "
          f"ratio {tb / ts:.2f}x (target <= 1.2x)")
    for label, db in (("ten-year", big), ("chairs only", small)):
        count, plan, dt = _redraw_cost(db)
        # SCAN o / SCAN e read the co-routines of one session's rows, not the tables
        scans = [p for p in plan if p.startswith("SCAN") and p.split()[1] not in ("os", "o", "e")]
        print(f"   --watch redraw, {label}: {count} statement(s), {dt * 1000:.1f} ms; "
              f"full scans other than open_sessions: {scans or 'none'}")
        if label == "ten-year":
            for p in plan:
                print(f"      plan: {p}")


if __name__ == "__main__":
    main()
