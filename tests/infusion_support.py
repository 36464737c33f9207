"""Helpers shared by the infusion-day CLI tests (tests/cli/test_screen.py, test_session.py,
test_vitals.py, test_discharge.py, test_void.py, test_options.py): the steps of a day
with explicit --at times, and the contract's error shape.

Not a test module and not a conftest: imported by name (pytest's `pythonpath` is
tests/). Every patient these helpers create carries NAME, a name with Rich markup
in it, so every error assertion can also check that the name never leaks to stderr.
Helpers for any test (database reads, `ok`, error shapes) are in tests/helpers.py.
"""

from __future__ import annotations

import pytest
from helpers import (
    assert_error_envelope,
    assert_no_pii,
    assert_one_error,
    counts,
    diff,
    ok,
    query,
)

NAME = "Ann [bold red]x[/] Quill"
PII = (NAME, "Quill")
MRN = "KX-100"
OTHER = "KX-200"  # screened, no session: for start-session cases (the `live` fixture)
DAY = "2026-11-27"  # the pinned clinic day (now = 09:00 America/Chicago)

PHQ9_MODERATE = "2,2,2,2,1,1,2,0,0"  # total 12, moderate (the clinical reference's check vector)


def at(hhmm: str, day: str = DAY) -> str:
    """A naive clinic-zone time on the pinned day."""
    return f"{day} {hhmm}"


def utc(hhmm: str, day: str = DAY) -> str:
    """The stored UTC form of a clinic time on the pinned day (Chicago is UTC-6 in November)."""
    h, m = map(int, hhmm.split(":"))
    return f"{day}T{h + 6:02d}:{m:02d}:00+00:00"


def last_audit(db_path) -> tuple:
    return query(db_path, "SELECT action, entity, entity_id, patient, detail FROM audit "
                          "ORDER BY id DESC LIMIT 1")[0]


def assert_error(r, code: int, *, json_out: bool = False) -> None:
    """The contract's error shape: exit code, one `error:` line first on stderr (an
    optional `hint:` after it), no traceback, nothing on stdout but the JSON envelope,
    and never the patient's name."""
    assert_one_error(r, code)
    assert_no_pii(r.stderr, pii=PII)
    if json_out:
        assert_error_envelope(r.stdout, r.stderr)
    else:
        assert r.stdout == "", r.stdout


# -- the steps of a day -------------------------------------------------------------
def _invoke(cli, args: list, when: str | None, json_out: bool, extra=()):
    """Run `args`, then `--at WHEN` (when given), `extra`, and `--json` (when asked)."""
    if when is not None:
        args += ["--at", when]
    args += list(extra)
    if json_out:
        args.append("--json")
    return cli(*args)


def screen(cli, mrn: str = MRN, *extra, bp: str = "128/82", hr: int = 72, weight: float = 80,
           when: str | None = at("07:00"), name: str | None = NAME, phq9: str | None = PHQ9_MODERATE,
           json_out: bool = True):
    args = ["screen", mrn, "--weight", weight, "--bp", bp, "--hr", hr]
    if name is not None:
        args += ["--name", name]
    if phq9 is not None:
        args += ["--phq9", phq9]
    return _invoke(cli, args, when, json_out, extra)


def start(cli, mrn: str = MRN, *extra, bp: str = "130/80", hr: int = 70,
          when: str | None = at("07:40"), json_out: bool = True):
    return _invoke(cli, ["start-session", mrn, "--bp", bp, "--hr", hr, *extra], when, json_out)


def vitals(cli, session, *extra, when: str | None = None, json_out: bool = True):
    return _invoke(cli, ["log-vitals", session, *extra], when, json_out)


def event(cli, session, kind: str, *extra, when: str | None = None, json_out: bool = True):
    return _invoke(cli, ["log-event", session, kind, *extra], when, json_out)


def discharge(cli, session, *extra, aldrete: int | None = 10, bp: str = "128/80", hr: int = 76,
              transport: str | None = "escort", when: str | None = at("08:55"),
              json_out: bool = True):
    args = ["discharge", session, "--bp", bp, "--hr", hr]
    if aldrete is not None:
        args += ["--aldrete", aldrete]
    if transport is not None:
        args += ["--transport", transport]
    return _invoke(cli, args, when, json_out, extra)


def panel_text(stdout: str) -> str:
    """A Rich panel's text with its borders removed and wrapped lines joined by a space, so
    a sentence can be found wherever the 80 columns broke it."""
    lines = (line.strip().strip("│╭╮╰╯─").strip() for line in stdout.splitlines())
    return " ".join(line for line in lines if line)


def summary_json(cli, session) -> dict:
    return ok(cli("summary", session, "--json")).json["data"]


def screened(cli, mrn: str = MRN, *extra, **kw) -> int:
    """A screening (by default eligible, at 07:00); returns its id."""
    return ok(screen(cli, mrn, *extra, **kw)).json["data"]["screening_id"]


def open_session(cli, mrn: str = MRN, *extra, when: str = at("07:40")) -> int:
    """Screened at 07:00, started at 07:40 (80 kg, 40 mg over 40 min: ends 08:20)."""
    screened(cli, mrn)
    return ok(start(cli, mrn, *extra, when=when)).json["data"]["session_id"]


def closed_session(cli, mrn: str = MRN) -> int:
    sid = open_session(cli, mrn)
    ok(discharge(cli, sid))
    return sid


# -- what a refusal and bad input leave behind -------------------------------------------
def assert_refused(r, db_path, before, entity: str, names: list[str]) -> list[dict]:
    """Exit 1 with the JSON envelope; only an audit 'refuse' row was stored."""
    assert_error(r, 1, json_out=True)
    details = r.json["error"]["details"]
    assert [d["name"] for d in details] == names
    lines = r.stderr.splitlines()
    assert lines[0].startswith("error: ")
    # one unmet rule per line after the error line, named, in the order of the details
    listed = [ln for ln in lines[1:] if ln.startswith("  - ")]
    assert len(listed) == len(details)
    for d, ln in zip(details, listed, strict=True):
        assert ln.startswith(f"  - {d['name']}: ")
        assert (d.get("message") or d.get("detail")) in ln
    assert diff(before, counts(db_path)) == {"audit": 1}
    action, ent, _eid, patient, _detail = last_audit(db_path)
    assert (action, ent, patient) == ("refuse", entity, MRN)
    return details


def unchanged(db_path, before) -> None:
    assert diff(before, counts(db_path)) == {}


# -- implausible vitals, refused (exit 2) by screen, start-session, log-vitals, discharge --
IMPLAUSIBLE = [
    pytest.param(("--bp", "400/80"), id="sbp-400"),
    pytest.param(("--bp", "120/120"), id="dbp-equals-sbp"),
    pytest.param(("--bp", "120/130"), id="dbp-above-sbp"),
    pytest.param(("--bp", "45/30"), id="sbp-45"),
    pytest.param(("--bp", "120/15"), id="dbp-15"),
    pytest.param(("--bp", "120"), id="bp-not-a-pair"),
    pytest.param(("--hr", "10"), id="hr-10"),
    pytest.param(("--hr", "251"), id="hr-251"),
    pytest.param(("--spo2", "120"), id="spo2-120"),
    pytest.param(("--spo2", "49"), id="spo2-49"),
]


def _with(defaults: dict, override: tuple) -> list[str]:
    opts = dict(defaults)
    opts[override[0]] = override[1]
    return [x for kv in opts.items() for x in kv]


# a late entry's reason (log-vitals/log-event/waste --late)
LATE = "charted from the paper record"
