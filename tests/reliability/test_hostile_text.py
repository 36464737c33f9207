"""Text that reaches a terminal or a spreadsheet (contract: "Files, faults and hostile
input"): control, bidi and invisible characters refused on input (tab and newline stay
allowed in notes and details) and shown escaped in human output; a name with no visible
character refused; CSV text cells that a spreadsheet would run as a formula written with a
leading `'` in every CSV (exports, `followup due`, `report controlled`); JSON on stdout is
UTF-8 whatever PYTHONIOENCODING says."""

from __future__ import annotations

import io
import json

import pytest
from helpers import assert_one_error, csv_rows, ok, on_pg, query, tamper
from infusion_support import at, discharge, screened, start
from reliability_support import run

from ketacli.render import csv_writer
from ketacli.textsafety import escape

SCREEN = ("--weight", "70", "--bp", "120/80", "--hr", "70")
HOSTILE = {
    "esc": "Ann \x1b[2J\x1b]0;pwned\x07Example",
    "c1 csi": "Ann \x9b31mExample",
    "bidi override": "Ann \u202eelpmaxE",
    "bidi isolate": "Ann \u2066Example\u2069",
    "line separator": "Ann\u2028Example",
    "paragraph separator": "Ann\u2029Example",
    "zero width": "An\u200bn Example",
    "bom": "\ufeffAnn Example",
    "del": "Ann\x7fExample",
    "nul": "Ann\x00Example",
    "cr": "Ann\rExample",
}
INVISIBLE_NAMES = ["\u200b", "\u3164", "\u00ad\u00ad", "\u200d", " \u200c ", "\u0301"]


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_control_bidi_and_invisible_characters_are_refused(cli, db_path, text):
    for args in (("patient", "add", "HT-1", "--name", text),
                 ("screen", "HT-1", "--name", "Ann Example", *SCREEN, "--note", text),
                 ("--clinician", text, "patient", "add", "HT-2", "--name", "Ann Example")):
        r = cli(*args)
        assert_one_error(r, 2)
        assert text not in r.stderr
    assert not db_path.exists() or query(db_path, "SELECT count(*) FROM patients") == [(0,)]


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_name_with_no_visible_character_is_refused(cli, name):
    assert_one_error(cli("patient", "add", "HT-3", "--name", name), 2)


def test_tab_and_newline_stay_allowed_in_notes(cli, db_path):
    ok(cli("screen", "HT-4", "--name", "José Müller-Ñandú 名前", *SCREEN,
           "--note", "line one\n\tline two\r\nline three"))
    assert query(db_path, "SELECT note FROM screenings") == [
        ("line one\n\tline two\nline three",)]


def _plant(db_path, name: str) -> None:
    """Stored text that got past validation (an older version, a raw write)."""
    if on_pg(db_path):
        triggers = query(db_path, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                                  "AND tgrelid = 'patients'::regclass")
    else:
        triggers = query(db_path, "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                  "AND tbl_name = 'patients'")
    tamper(db_path, "UPDATE patients SET name = ?", drop=tuple(t for (t,) in triggers),
           params=[(name,)])


def test_stored_control_characters_are_shown_escaped(cli, db_path):
    ok(cli("screen", "HT-5", "--name", "Ann Example", *SCREEN))
    _plant(db_path, "Ann \x1b]8;;http://evil.example\x1b\\\x9b2J \u202eevil\u2028x")
    for args in (("patient", "list"), ("patient", "show", "HT-5")):
        out = ok(cli(*args)).stdout
        assert not any(ch in out for ch in "\x1b\x9b\u202e\u2028"), repr(out)
        assert "\\x1b" in out and "\\u202e" in out
    # machine output keeps the stored value (JSON escapes what it must)
    data = ok(cli("patient", "show", "HT-5", "--json")).json["data"]
    assert "\u202e" in json.dumps(data, ensure_ascii=False)


def test_escape_shows_every_unsafe_character():
    assert escape("a\x1bb\u202ec\x9bd\te\nf") == "a\\x1bb\\u202ec\\x9bd\te\nf"
    assert escape("plain é 名前 🙂") == "plain é 名前 🙂"


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
            "\tTab", "\rCR"]


def test_the_one_csv_writer_neutralizes_formulas():
    buf = io.StringIO(newline="")
    w = csv_writer.writer(buf)
    w.writerow(["=1+1", "+x", "-x", "@x", "\tx", "\rx", -5, 1.5, "plain", None, "a=b"])
    assert buf.getvalue() == "'=1+1,'+x,'-x,'@x,'\tx,'\rx,-5,1.5,plain,,a=b\n"
    buf = io.StringIO(newline="")
    d = csv_writer.dict_writer(buf, ["a", "b"])
    d.writeheader()
    d.writerow({"a": "=cmd|' /C calc'!A0", "b": 3})
    assert buf.getvalue() == "a,b\n'=cmd|' /C calc'!A0,3\n"
    raw = io.StringIO(newline="")
    csv_writer.writer(raw, neutralize=False).writerow(["=1"])  # the REDCap import file
    assert raw.getvalue() == "=1\n"


def test_a_phone_number_or_a_plain_number_keeps_its_sign():
    """`+1 555 0101` cannot run anything; an apostrophe would break the E.164 number the
    reminder CSV hands to an SMS gateway. Anything with a letter, quote, `!`, `|` or a
    second operator is still neutralized."""
    buf = io.StringIO(newline="")
    csv_writer.writer(buf).writerow(["+1 555 0101", "+15550101", "+44 (20) 7946-0958", "-12.5"])
    assert buf.getvalue() == "+1 555 0101,+15550101,+44 (20) 7946-0958,-12.5\n"
    buf = io.StringIO(newline="")
    csv_writer.writer(buf).writerow(["+1+1", "-2*3", "+1 555 HYPERLINK", "+1!A1", "-1|x"])
    assert buf.getvalue() == "'+1+1,'-2*3,'+1 555 HYPERLINK,'+1!A1,'-1|x\n"


@pytest.mark.parametrize("name", [f for f in FORMULAS if not f.startswith(("\t", "\r"))])
def test_every_csv_neutralizes_names_and_lots(cli, name):
    """A name beginning with = + - @ is refused nowhere (it may be a real one), but never
    reaches a spreadsheet as a formula: export, followup due, report controlled."""
    screened(cli, "HT-6", name=name)
    sid = ok(start(cli, "HT-6", "--lot", "=1+2", "--drawn-mg", "40")).json["data"]["session_id"]
    ok(discharge(cli, sid))
    patients = csv_rows(ok(cli("export", "patients", "--format", "csv")).stdout)
    assert patients[0]["name"] == "'" + name
    due = csv_rows(ok(cli("followup", "due", "--within", "30", "--format", "csv")).stdout)
    assert due and all(r["name"] == "'" + name for r in due)
    ledger = ok(cli("report", "controlled", "--since", at("00:00")[:10], "--format", "csv")).stdout
    assert "'=1+2" in ledger and ",=1+2" not in ledger
    sessions = csv_rows(ok(cli("export", "sessions", "--format", "csv")).stdout)
    assert sessions[0]["lot"] == "'=1+2"


def test_json_is_utf8_whatever_pythonioencoding_says(tmp_path):
    db = tmp_path / "clinic.db"
    r = run(db, "patient", "add", "HT-7", "--name", "José Ñandú 名前", "--json",
            PYTHONIOENCODING="ascii")
    assert r.returncode == 0, r.stderr
    assert r.json["data"]["name"] == "José Ñandú 名前"
    r = run(db, "patient", "list", "--json", PYTHONIOENCODING="latin-1")
    assert r.json["data"][0]["name"] == "José Ñandú 名前"
    for fmt in ("json", "ndjson", "csv", "fhir"):
        r = run(db, "export", "patients", "--format", fmt, PYTHONIOENCODING="ascii", LANG="C")
        assert r.returncode == 0, r.stderr
        assert "José Ñandú 名前" in r.stdout
