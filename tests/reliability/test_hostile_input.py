"""Hostile and malformed input to the recording commands (hypothesis, bounded).

Whatever is typed: the exit code is 0-3, a failure is one `error:` line first on
stderr with no traceback and no patient data, --json failures are the JSON error
envelope, and an invalid input (exit 2) or a conflict (exit 3) stores nothing at all;
a refusal (exit 1) stores only its audit row. Plus non-UTF-8 bytes in a real argv.
"""

from __future__ import annotations

import json
import os

import pytest
from helpers import counts, ok
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import DOB, NAME, NOTE, PHQ9, assert_error_shape, assert_no_pii, run

from ketacli.domain.validate import MRN_RE

# 60 fixed (derandomized) cases per command in the suite; RELIABILITY_FUZZ_EXAMPLES=2000 for a
# longer, random hunt
EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="RELIABILITY_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CURATED = [
    # numbers
    "", " ", "-1", "0", "-0", "1e309", "-1e309", "NaN", "nan", "inf", "-inf", "1.5", "80.0",
    "99999999999999999999", "9" * 400, "0x1F", "1_000", "１２０", "٣", "1e2", "+5", "007",
    # blood pressure pairs
    "120/80", "300/400", "80/120", "120/", "/80", "120/80/60", " 120 / 80 ", "49/20", "301/100",
    "1e2/50", "120\\80", "120-80", "-120/80",
    # Rich markup, terminal escapes, control characters, unicode
    "[bold red]x[/]", "[/]", "[link=https://evil.example]x[/link]", "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x07x", "a\x00b", "line1\nline2", "\r\n", "\t", "\u202etxt",
    "\u200b", "\udcff\udcfe", "é", "名前", "🙂", "\x7f",
    # MRNs
    "A" * 33, "A" * 32, "FZ-1", "FZ-1 ", " FZ-1", "fz-1", "FZ-1\n", "FZ 1", "FZ/1", "ＦＺ-1",
    "DEMO-00001", "Ω-1", "--json", "-", "--",
    # times and dates
    "2026-02-30", "2026-13-01", "24:00", "23:60", "9:5", "08:00", "07:59", "09:06", "08:45",
    "9999-12-31 23:59", "0001-01-01 00:00", "0001-01-01T00:00:00+14:00",
    "2026-11-27T09:00:00+25:00", "2026-11-27T08:30:00-06:00", "2026-11-27 08:30",
    "2026-11-27", "2026-11-27T14:30:00Z", "2026-11-27T14:30", "tomorrow", "now", "9999-12-31",
    "0001-01-01", "2026-03-08 02:30",
    # item lists
    "0,0,0,0,0,0,0,0,0", "3,3,3,3,3,3,3,3,4", "a,b,c,d,e,f,g,h,i", "1,2", ",,,,,,,,",
    "1,1,1,1,1,1,1,1,1,1", "-1,0,0,0,0,0,0,0,0", "2,2,2,2,2", "3,0,0,0,0", "2,2,2,2,1,1,2,0,0",
    " 1, 1, 1, 1, 1, 1, 1 ", "1;1;1;1;1;1;1", "1.0,1,1,1,1,1,1",
    # choices
    "escort", "self-drive", "ESCORT", "pause", "rate-change", "stop", "trd", "benzodiazepine",
    "nausea:severe", "nausea:extreme", "observation", "screening",
    # long text and the patient's own data typed in the wrong place
    "x" * 10000, "y" * 2001, NAME, NOTE, DOB,
]
TEXT = st.text(max_size=24)
HOSTILE = st.one_of(
    st.sampled_from(CURATED),
    TEXT,
    st.integers(min_value=-(10**22), max_value=10**22).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-2, 5).map(str), min_size=0, max_size=11).map(",".join),
)

# command -> (positional args, {option: valid value}); each example corrupts some of them
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "screen": (["FZ-NEW"], {
        "--name": "Fuzz New", "--weight": "80", "--bp": "124/80", "--hr": "72", "--height": "170",
        "--spo2": "97", "--indication": "trd", "--phq9": PHQ9, "--gad7": "1,1,1,1,1,1,1",
        "--madrs": "20", "--pcl5": "30", "--condition": "glaucoma", "--med": "opioid",
        "--dob": "1980-01-02", "--sex": "F", "--phone": "+1 555 0100", "--note": NOTE,
        "--at": "08:00"}),
    "start-session": (["FZ-2"], {
        "--bp": "170/105", "--hr": "70", "--dose": "0.5", "--duration": "40", "--weight": "80",
        "--concentration": "10", "--lot": "KET-2611A", "--drawn-mg": "50", "--site": "left arm",
        "--spo2": "98", "--at": "08:50"}),
    "log-vitals": (["1"], {
        "--bp": "130/82", "--hr": "80", "--spo2": "97", "--rr": "14", "--etco2": "38",
        "--moaas": "4", "--dissociation": "3", "--at": "08:20", "--note": NOTE}),
    "log-event": (["1", "medication"], {"--detail": "ondansetron 4 mg", "--at": "08:25"}),
    "discharge": (["1"], {
        "--aldrete": "10", "--bp": "128/80", "--hr": "76", "--spo2": "98", "--transport": "escort",
        "--escort": "family member", "--side-effect": "nausea:mild", "--delivered-mg": "40",
        "--at": "08:45", "--note": NOTE}),
    "followup record": (["FZ-1"], {
        "--phq9": PHQ9, "--gad7": "1,1,1,1,1,1,1", "--madrs": "18", "--pcl5": "20",
        "--at": "08:30", "--note": NOTE}),
    "followup schedule": (["FZ-1"], {"--kind": "call", "--due": "2026-12-01", "--note": NOTE}),
    "patient add": (["FZ-ADD"], {"--name": "Fuzz Added", "--dob": "1970-05-05", "--sex": "M",
                                 "--phone": "555 0101"}),
    "void": (["observation", "3"], {"--reason": "entered on the wrong patient"}),
}
REFUSING = {"start-session", "discharge"}  # the only commands that may exit 1
# options always given (still possibly corrupted), so that most lines get past the parser
REQUIRED = {
    "screen": ("--name", "--weight", "--bp", "--hr"), "start-session": ("--bp", "--hr"),
    "log-vitals": (), "log-event": (), "discharge": ("--aldrete", "--bp", "--hr", "--transport"),
    "followup record": ("--phq9",), "followup schedule": ("--kind", "--due"),
    "patient add": ("--name",), "void": ("--reason",),
}


@pytest.fixture
def clinic(cli):
    """FZ-1 screened at 07:00 and infusing since 08:00 (session 1); FZ-2 screened, not started.

    The pinned clock says 09:00 America/Chicago on 2026-11-27."""
    ok(cli("screen", "FZ-1", "--name", NAME, "--dob", DOB, "--weight", "80", "--bp", "124/80",
           "--hr", "72", "--phq9", PHQ9, "--note", NOTE, "--at", "07:00"))
    r = ok(cli("start-session", "FZ-1", "--bp", "126/80", "--hr", "70", "--at", "08:00", "--json"))
    assert r.json["data"]["session_id"] == 1
    ok(cli("log-vitals", "1", "--hr", "81", "--at", "08:10"))  # observation 2 (1 is pre)
    ok(cli("log-vitals", "1", "--hr", "82", "--at", "08:15"))  # observation 3
    ok(cli("screen", "FZ-2", "--name", NAME, "--dob", DOB, "--weight", "80", "--bp", "124/80",
           "--hr", "72", "--phq9", PHQ9, "--at", "07:00"))
    return cli


def check(cli, db_path, command: str, args: list[str]) -> int:
    """Run one hostile command line in-process; assert the contract; return the exit code."""
    before = counts(db_path)
    r = cli(*args)
    after = counts(db_path)
    shown = (args[:12], r.exit_code, r.stdout[-400:], r.stderr[-400:])
    # an escaped exception also shows as exit 1 under CliRunner: there must be none
    assert r.exception is None or isinstance(r.exception, SystemExit), (shown, repr(r.exception))
    assert r.exit_code in {0, 1, 2, 3}, shown
    assert r.exit_code != 1 or command in REFUSING, shown
    assert "Traceback" not in r.stdout and "Traceback" not in r.stderr, shown
    if r.exit_code != 0:
        lines = r.stderr.splitlines()
        assert lines and lines[0].startswith("error:"), shown
        assert sum(line.startswith("error:") for line in lines) == 1, shown
        if r.stdout:
            doc = json.loads(r.stdout)  # with --json: the error envelope and nothing else
            assert set(doc) == {"error"}, shown
        mrn_slots = tuple(a for a in args if MRN_RE.fullmatch(a))
        assert_no_pii(r.stderr, r.stdout, allow=mrn_slots)
    elif "--json" in args:
        assert set(json.loads(r.stdout)) == {"data"}, shown
    changed = {t: after[t] - before[t] for t in after if after[t] != before[t]}
    if r.exit_code in (2, 3):
        assert changed == {}, (shown, changed)
    elif r.exit_code == 1:
        assert changed == {"audit": 1}, (shown, changed)
    return r.exit_code


def _fuzz(command: str):
    positional, options = COMMANDS[command]
    keys = sorted(options)

    @st.composite
    def command_lines(draw) -> list[str]:
        pos = [draw(HOSTILE) if draw(st.integers(0, 3)) == 0 else p for p in positional]
        optional = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
        chosen = [*REQUIRED[command], *(k for k in optional if k not in REQUIRED[command])]
        corrupt = draw(st.lists(st.sampled_from(keys), unique=True, max_size=3))
        args = [*command.split(), *pos]
        for key in chosen:
            value = draw(HOSTILE) if key in corrupt else options[key]
            args += [key, value]
        for key in corrupt:
            if key not in chosen:
                args += [key, draw(HOSTILE)]
        if draw(st.booleans()):
            args.append("--json")
        return args

    return command_lines()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_command_lines(clinic, db_path, command):
    seen: dict[int, int] = {}

    @FUZZ
    @given(args=_fuzz(command))
    def one(args):
        code = check(clinic, db_path, command, args)
        seen[code] = seen.get(code, 0) + 1

    one()
    print(f"\n{command}: exit codes {dict(sorted(seen.items()))}")
    # the cases were not all stopped at the parser: invalid input and at least one other outcome
    assert seen.get(2, 0) > 0 and len(seen) >= 2, seen


@settings(FUZZ, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.one_of(st.sampled_from(CURATED), st.text(max_size=300), st.text(
    st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "So", "Lo"]), max_size=50)))
def test_free_text_is_stored_as_typed_or_refused(cli, text):
    """Free text (a note) is stored exactly as typed (trimmed) or refused with exit 2,
    never interpreted: Rich markup and escapes come back byte for byte in --json."""
    mrn = "FT-1"
    if cli("patient", "show", mrn).exit_code != 0:
        ok(cli("patient", "add", mrn, "--name", "Free Text"))
    r = cli("followup", "schedule", mrn, "--kind", "call", "--due", "2026-12-01", "--note", text,
            "--json")
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in (0, 2), (r.exit_code, r.stderr)
    if r.exit_code == 0:
        stored = r.json["data"]["note"]
        assert stored == (text.strip() or None)
        shown = cli("followup", "list", mrn, "--json").json["data"]
        assert stored in [f["note"] for f in shown]
    else:
        assert_error_shape(2, r.stdout, r.stderr, json_out=True)
        assert text.strip() not in r.stderr or len(text.strip()) < 3


BAD_BYTES = [
    ("patient", "add", b"\xff\xfe", "--name", "Byte Name"),
    ("patient", "add", "BYTE-1", "--name", b"Zebulon \xff\xfe Quixotic"),
    ("screen", b"BYTE-\xff", "--name", "B", "--weight", "80", "--bp", "120/80", "--hr", "70"),
    ("screen", "BYTE-2", "--name", "B", "--weight", b"8\xff0", "--bp", "120/80", "--hr", "70"),
    ("screen", "BYTE-3", "--name", "B", "--weight", "80", "--bp", b"120/\xfe80", "--hr", "70",
     "--note", b"lives at 742 \xff Evergreen Terrace"),
    ("log-vitals", "1", "--hr", "80", "--at", b"08:\xff0"),
    ("log-vitals", "1", "--hr", "80", "--note", b"\xff\xfe"),
    ("log-event", "1", b"pa\xffuse"),
    (b"\xff\xfe",),
    ("patient", b"--n\xffame", "x"),
    ("followup", "due", "--format", b"cs\xffv"),
    ("log-vitals", "1", "--hr", "80", "--at", b"08:\xff0", "--json"),
    ("export", b"patie\xffnts"),
]


def test_non_utf8_argv_is_a_usage_error(tmp_path):
    """Bytes that are not UTF-8 in a real argv: exit 2, one error line, no traceback."""
    db = tmp_path / "bytes.db"
    ok(run(db, "patient", "add", "BYTE-0", "--name", NAME, "--dob", DOB))
    before = counts(db)
    for args in BAD_BYTES:
        r = run(db, *args)
        assert_error_shape(r.returncode, r.stdout, r.stderr, expect=2,
                           json_out="--json" in args)
        assert counts(db) == before, args
