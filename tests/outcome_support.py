"""Helpers for the follow-up, trend and report CLI tests (tests/cli/test_followup.py,
test_followup_due.py, test_trend.py, test_report.py): a patient run through screening,
infusions and assessments with explicit --at times. Database reads, `build_once` and
`copy_db` are in tests/helpers.py.

Not a test module and not a conftest: imported by name (pytest's `pythonpath` is
tests/). The pinned clock is 2026-11-27 09:00 America/Chicago, so every --at here
is on or before that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import assert_one_error
from helpers import ok as succeeded

NOW_ISO = "2026-11-27T15:00:00+00:00"
A_WEEK_AGO = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def phq9(total: int) -> str:
    """Nine PHQ-9 items adding up to `total` (0-24), item 9 (self-harm) always 0."""
    assert 0 <= total <= 24
    items = []
    left = total
    for _ in range(8):
        items.append(min(3, left))
        left -= items[-1]
    return ",".join(map(str, [*items, 0]))


def ok(r):
    """Assert success and return the JSON data (or the result when not JSON)."""
    succeeded(r)
    return r.json["data"] if r.json else r


def fails(r, code: int) -> None:
    """A one-line `error:` on stderr (then only hints), the given exit code, nothing on
    stdout, no traceback."""
    assert_one_error(r, code)
    assert r.stdout == ""


def screen(cli, mrn: str, day: str = "2026-11-01", *, phq9_total: int | None = 20,
           name: str = "Test Patient", phone: str = "555-0100", extra=()) -> dict:
    args = ["screen", mrn, "--name", name, "--phone", phone, "--weight", "80",
            "--bp", "120/80", "--hr", "70", "--at", f"{day} 08:00", *extra, "--json"]
    if phq9_total is not None:
        args += ["--phq9", phq9(phq9_total)]
    data = ok(cli(*args))
    assert data["decision"] == "eligible", data
    return data


def infusion(cli, mrn: str, day: str, *, start: str = "09:00", dose: float | None = None,
             bp: str = "120/80", override: str | None = None,
             side_effects=(), no_schedule: bool = False) -> tuple[dict, dict]:
    """start-session then discharge 90 minutes later: (start data, discharge data)."""
    t0 = datetime.fromisoformat(f"{day} {start}")
    args = ["start-session", mrn, "--bp", bp, "--hr", "72", "--at", f"{day} {start}"]
    if dose is not None:
        args += ["--dose", str(dose)]
    if override:
        args += ["--override", override, "--cosign", "dr.second"]
    started = ok(cli(*args, "--json"))
    end = (t0 + timedelta(minutes=90)).strftime("%Y-%m-%d %H:%M")
    args = ["discharge", str(started["session_id"]), "--aldrete", "10", "--bp", "124/80",
            "--hr", "74", "--transport", "escort", "--at", end]
    for code in side_effects:
        args += ["--side-effect", code]
    if no_schedule:
        args.append("--no-schedule")
    discharged = ok(cli(*args, "--json"))
    return started, discharged


def assess(cli, mrn: str, at: str, total: int, *extra: str) -> dict:
    """`followup record MRN --phq9 ... --at AT`."""
    return ok(cli("followup", "record", mrn, "--phq9", phq9(total), "--at", at, *extra, "--json"))


def schedule(cli, mrn, kind, due, *extra):
    return ok(cli("followup", "schedule", mrn, "--kind", kind, "--due", due, *extra, "--json"))
