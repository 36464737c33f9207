"""Exports read one snapshot and are audited first (docs/cli-contract.md, "Exports are
disclosures", "De-identification"): records committed by others while an export runs are
in none of it, a void committed meanwhile applies to none of it, every reference resolves;
each export reports its id, and `--after EXPORT_ID` gives what was written since;
`--since` with `--deidentify` is refused however it is varied."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from helpers import ok, on_pg, query, scalar
from reliability_support import NOTE, assert_error_shape, open_session, popen, real_clock, run

from ketacli.store import export as xs


@pytest.fixture
def charting(cli, db_path):
    now = real_clock()
    sid = open_session(cli, "SN-1", now)
    oids = [ok(cli("log-vitals", sid, "--hr", hr, "--note", NOTE, "--json")).json["data"][
        "observation_id"] for hr in (80, 84)]
    return db_path, sid, oids


def _export_id(stderr: str) -> int:
    m = re.search(r"\(export (\d+)\)", stderr)
    assert m, stderr
    return int(m.group(1))


def _ids(doc: dict, table: str, key: str) -> list[int]:
    return [r[key] for r in doc["data"][table]]


def test_what_others_commit_during_an_export_is_in_none_of_it(cli, charting, monkeypatch):
    db, sid, (first, second) = charting
    real_rows = xs.Reader.rows
    done: list[str] = []

    def rows_then_chart(self, table, **kw):
        out = real_rows(self, table, **kw)
        if table == "patients" and not done:  # after the first table: others chart
            done.append(ok(run(db, "log-vitals", sid, "--hr", "90", "--json")).stdout)
            ok(run(db, "void", "observation", first, "--reason", "entered on the wrong chart"))
        return out

    monkeypatch.setattr(xs.Reader, "rows", rows_then_chart)
    before = [r[0] for r in query(db, "SELECT id FROM observations ORDER BY id")]
    assert first in before and second in before
    r = ok(cli("export", "all", "--format", "json"))
    doc = json.loads(r.stdout)
    new = json.loads(done[0])["data"]["observation_id"]
    # the snapshot: neither the new reading nor the void, everything it names is there
    assert _ids(doc, "observations", "observation_id") == before
    sessions = set(_ids(doc, "sessions", "session_id"))
    assert {o["session_id"] for o in doc["data"]["observations"]} <= sessions
    audit_ids = _ids(doc, "audit", "audit_id")
    assert audit_ids == list(range(1, max(audit_ids) + 1))
    assert scalar(db, "SELECT count(*) FROM audit WHERE id > ?", (max(audit_ids),)) >= 2
    # the next export sees both
    monkeypatch.setattr(xs.Reader, "rows", real_rows)
    after = json.loads(ok(cli("export", "all", "--format", "json")).stdout)
    assert _ids(after, "observations", "observation_id") == [
        *(o for o in before if o != first), new]


def test_exports_stay_whole_while_a_writer_charts(cli, charting):
    """Console-script exports while another process logs vitals and voids them: every
    export exits 0 and every reference in it resolves."""
    db, sid, _ = charting
    stop = threading.Event()
    errors: list[str] = []

    def writer():
        while not stop.is_set():
            r = run(db, "log-vitals", sid, "--hr", "88", "--json")
            if r.returncode != 0:
                errors.append(r.stderr)
                continue
            oid = r.json["data"]["observation_id"]
            run(db, "void", "observation", oid, "--reason", "duplicate entry")

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(4):
            r = run(db, "export", "all", "--format", "json")
            assert r.returncode == 0, r.stderr
            doc = r.json["data"]
            sessions = {s["session_id"] for s in doc["sessions"]}
            assert {o["session_id"] for o in doc["observations"]} <= sessions
            assert {e["session_id"] for e in doc["events"]} <= sessions
            voided = {a["entity_id"] for a in doc["audit"] if a["action"] == "void"}
            assert not voided & {o["observation_id"] for o in doc["observations"]}
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=60)
    assert errors == []


def test_the_export_audit_row_comes_before_its_data(cli, charting):
    db, _, _ = charting
    r = ok(cli("export", "audit", "--format", "json"))
    export_id = _export_id(r.stderr)
    rows = json.loads(r.stdout)["data"]
    assert rows[-1]["audit_id"] == export_id and rows[-1]["action"] == "export"
    # and its completion names it, with the counts
    (detail,) = query(db, "SELECT detail FROM audit WHERE action = 'exported' AND entity_id = ?",
                      (export_id,))[0]
    assert json.loads(detail)["rows"] == {"audit": len(rows)}
    assert ok(cli("audit", "--json")).json["data"][-2]["audit_id"] == export_id


def test_after_gives_only_what_was_written_since(cli, charting):
    _, sid, (first, _) = charting
    r = ok(cli("export", "observations", "--format", "json"))
    export_id = _export_id(r.stderr)
    third = ok(cli("log-vitals", sid, "--hr", "92", "--json")).json["data"]["observation_id"]
    ok(cli("void", "observation", str(first), "--reason", "entered on the wrong chart"))
    r = ok(cli("export", "observations", "--format", "json", "--after", str(export_id)))
    assert [o["observation_id"] for o in json.loads(r.stdout)["data"]] == [third]
    second_id = _export_id(r.stderr)
    assert second_id > export_id
    r = ok(cli("export", "observations", "--format", "json", "--after", str(second_id)))
    assert json.loads(r.stdout)["data"] == []
    # de-identified increments too
    r = ok(cli("export", "observations", "--format", "json", "--deidentify",
               "--after", str(export_id)))
    assert len(json.loads(r.stdout)["data"]) == 1


def test_after_and_until_both_bound_the_export(cli, charting):
    """--after (written since that export) and --until (clinic days up to) together: the rows
    both admit, in the table and the FHIR form alike."""
    _, sid, _ = charting
    export_id = _export_id(ok(cli("export", "observations", "--format", "json")).stderr)
    third = ok(cli("log-vitals", sid, "--hr", "92", "--json")).json["data"]["observation_id"]
    both = ("--after", str(export_id), "--until")
    r = ok(cli("export", "observations", "--format", "json", *both, "2099-12-31"))
    assert [o["observation_id"] for o in json.loads(r.stdout)["data"]] == [third]
    r = ok(cli("export", "observations", "--format", "json", *both, "2001-01-01"))
    assert json.loads(r.stdout)["data"] == []
    r = ok(cli("export", "all", "--format", "fhir-ndjson", *both, "2001-01-01"))
    assert r.stdout == ""


def test_after_must_name_an_export(cli, charting):
    db, _, _ = charting
    before = scalar(db, "SELECT count(*) FROM audit")
    for bad in ("1", "99999"):
        r = cli("export", "observations", "--after", bad)
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=3)
        assert r.stdout == ""
    assert scalar(db, "SELECT count(*) FROM audit") == before


@pytest.mark.parametrize("table", ["all", "sessions", "observations", "patients"])
def test_no_series_of_since_days_reaches_a_deidentified_export(cli, charting, table, tmp_path):
    """The oracle of the attack: export --deidentify --since D for D = day after day, and
    the day a record drops out gives its real date, so its shift. Every such export is
    refused, with nothing written and nothing audited."""
    db, _, _ = charting
    before = scalar(db, "SELECT count(*) FROM audit")
    for day in ("2026-01-01", "2026-06-30", "2026-11-01", "2026-11-26"):
        for fmt in ("json", "ndjson", "csv"):
            args = ["export", table, "--format", fmt, "--deidentify", "--since", day]
            if fmt == "csv" and table == "all":
                args += ["--output", str(tmp_path / "out")]
            r = cli(*args)
            assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=2)
            assert "--after" in r.stderr
    assert scalar(db, "SELECT count(*) FROM audit") == before
    assert not (tmp_path / "out").exists()


def test_an_export_on_a_read_only_database_exports_nothing(cli, charting):
    db, _, _ = charting
    ok(run(db, "db", "check"))
    before = scalar(db, "SELECT count(*) FROM audit")
    if on_pg(db):  # the server keeps the database read-only (the export's audit row cannot go in)
        import pg_support

        pg_support.admin(f'ALTER DATABASE "{db.dbname}" SET default_transaction_read_only = on')
    else:
        db.chmod(0o400)
    try:
        proc = popen(db, "export", "observations", "--format", "json")
        out, err = proc.communicate(timeout=60)
    finally:
        if on_pg(db):
            pg_support.admin(f'ALTER DATABASE "{db.dbname}" RESET default_transaction_read_only')
        else:
            db.chmod(0o600)
    if proc.returncode == 0 and not on_pg(db):  # root writes read-only files: nothing to show
        pytest.skip("running as root: a 0400 file stays writable")
    assert proc.returncode == 4 and out == b"", err
    assert scalar(db, "SELECT count(*) FROM audit") == before
