"""Export at clinic scale (issue 6): throughput against the sqlite3 shell, and peak memory.

    python benchmarks/export_bench.py [DB] [--patients 5000] [--seed 7] [--reps 3]

DB is reused when it exists, else built with `ketacli demo --patients N --seed S`
(default: a fresh database in a temporary directory). In one run it prints:
  1. the row count of every exported table;
  2. `ketacli export observations --format csv --output F` vs
     `sqlite3 -csv -header DB "SELECT * FROM observations" > F`, side by side,
     median of --reps runs each (interleaved), as rows/s and their ratio;
     without the sqlite3 shell, Python's sqlite3 + csv module is the reference (said so);
  3. peak RSS (os.wait4 of each child: its own ru_maxrss) and time of
     `ketacli export all --format csv|json|ndjson|fhir` to a file, with the
     interpreter's floor (`ketacli --version`) for comparison.
Nothing here is a test; the figures go into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
KETACLI = str(VENV_BIN / "ketacli") if (VENV_BIN / "ketacli").exists() else "ketacli"
TZ = "America/Chicago"
TABLES = ("patients", "screenings", "sessions", "observations", "events", "assessments",
          "followups", "audit")
PY_REFERENCE = """
import csv, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
cur = con.execute("SELECT * FROM observations")
with open(sys.argv[2], "w", newline="") as fh:
    w = csv.writer(fh, lineterminator="\\n")
    w.writerow([d[0] for d in cur.description])
    w.writerows(cur)
"""


def env_for(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLI_")}
    env.update(KETACLI_DB=str(db), KETACLI_TZ=TZ, KETACLI_CLINICIAN="bench", NO_COLOR="1",
               COLUMNS="100")
    return env


def run(argv: list[str], env: dict, stdout_path: Path | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one child process; exits on failure."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
    finally:
        if stdout_path:
            out.close()
    code = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace").strip()
    p.stderr.close()
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(map(str, argv))}\n{err}")
    return dt, usage.ru_maxrss


def build(db: Path, patients: int, seed: int) -> None:
    if db.exists():
        print(f"reusing {db}")
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run([KETACLI, "demo", "--patients", str(patients), "--seed", str(seed)],
                   env=env_for(db), check=True, capture_output=True)
    print(f"built {db} with `ketacli demo --patients {patients} --seed {seed}` "
          f"in {time.perf_counter() - t0:.1f} s")


def counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        out["voids"] = con.execute("SELECT count(*) FROM voids").fetchone()[0]
    finally:
        con.close()
    return out


def mib(kib: int) -> float:
    return kib / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db", nargs="?", type=Path, help="database to reuse or create")
    ap.add_argument("--patients", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ketacli-export-bench-"))
    db = args.db or work / f"demo-{args.patients}.db"
    try:
        build(db, args.patients, args.seed)
        env = env_for(db)
        n = counts(db)
        print(f"\ndatabase: {db} ({db.stat().st_size / 2**20:.1f} MiB)")
        print("rows: " + ", ".join(f"{t} {c:,}" for t, c in n.items()))

        # -- 1. throughput: observations as CSV ------------------------------------------------
        sqlite_cli = shutil.which("sqlite3")
        if sqlite_cli:
            ref_label = "sqlite3 -csv -header (shell)"
            ref_argv = [sqlite_cli, "-csv", "-header", str(db), "SELECT * FROM observations"]
            ref_to_stdout = True
        else:
            ref_label = "python sqlite3 + csv (no sqlite3 shell found)"
            ref_argv = [sys.executable, "-c", PY_REFERENCE, str(db), str(work / "ref.csv")]
            ref_to_stdout = False
        out = work / "observations.csv"
        k_times, r_times, k_rss, r_rss = [], [], 0, 0
        for _ in range(args.reps):  # interleaved, so drift hits both alike
            dt, kib = run([KETACLI, "export", "observations", "--format", "csv",
                           "--output", str(out)], env)
            k_times.append(dt)
            k_rss = max(k_rss, kib)
            dt, kib = run(ref_argv, env, work / "ref.csv" if ref_to_stdout else None)
            r_times.append(dt)
            r_rss = max(r_rss, kib)
        rows = n["observations"]
        startup = statistics.median(run([KETACLI, "--version"], env)[0] for _ in range(args.reps))
        k_med, r_med = statistics.median(k_times), statistics.median(r_times)
        k_rate, r_rate = rows / k_med, rows / r_med
        with open(work / "ref.csv", encoding="utf-8") as fh:
            ref_rows = sum(1 for _ in fh) - 1
        print(f"\nobservations -> CSV file, {rows:,} rows, median of {args.reps}:")
        print(f"  {'':<46} {'seconds':>8} {'rows/s':>10} {'peak RSS':>9}")
        print(f"  {'ketacli export observations --format csv':<46} {k_med:8.2f} "
              f"{k_rate:10,.0f} {mib(k_rss):6.1f} MiB")
        print(f"  {ref_label:<46} {r_med:8.2f} {r_rate:10,.0f} {mib(r_rss):6.1f} MiB")
        print(f"  ratio ketacli / reference: {k_rate / r_rate:.2f} "
              f"({'at least' if k_rate >= r_rate / 2 else 'BELOW'} half the reference speed)")
        if k_med > startup:
            print(f"  ketacli start-up (`ketacli --version`) {startup:.2f} s; streaming alone "
                  f"{rows / (k_med - startup):,.0f} rows/s")
        print(f"  runs (s): ketacli {', '.join(f'{t:.2f}' for t in k_times)}; "
              f"reference {', '.join(f'{t:.2f}' for t in r_times)}")
        print(f"  sizes: ketacli {out.stat().st_size / 2**20:.1f} MiB, "
              f"reference {(work / 'ref.csv').stat().st_size / 2**20:.1f} MiB "
              f"({ref_rows:,} rows; ketacli joins the MRN and leaves out voided rows)")

        # -- 2. peak memory of `export all` -----------------------------------------------------
        _, floor = run([KETACLI, "--version"], env)
        total = sum(n[t] for t in TABLES)
        print(f"\nexport all (every table, {total:,} rows) to a file; "
              f"`ketacli --version` peaks at {mib(floor):.1f} MiB:")
        print(f"  {'format':<8} {'seconds':>8} {'records/s':>10} {'peak RSS':>10} {'output':>10}")
        for fmt in ("csv", "json", "ndjson", "fhir"):
            target = work / ("all-csv" if fmt == "csv" else f"all.{fmt}")
            dt, kib = run([KETACLI, "export", "all", "--format", fmt, "--output", str(target)],
                          env)
            size = (sum(p.stat().st_size for p in target.iterdir()) if target.is_dir()
                    else target.stat().st_size)
            flag = "  <-- 100 MiB or more" if mib(kib) >= 100 else ""
            print(f"  {fmt:<8} {dt:8.2f} {total / dt:10,.0f} {mib(kib):6.1f} MiB "
                  f"{size / 2**20:6.1f} MiB{flag}")
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
        print("\n(fhir writes one resource per vital sign, so more records than rows: "
              "records/s counts database rows)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
