"""Issue 9: the controlled-substance ledger and the monitoring record."""

from __future__ import annotations

import csv
import io

import pytest
from helpers import query

DAY = "2026-11-27"


def screen(cli, mrn, weight="80"):
    r = cli("screen", mrn, "--name", f"Patient {mrn}", "--weight", weight, "--bp", "120/80",
            "--hr", "70", "--phq9", "2,2,2,2,1,1,2,0,0", "--med", "sedative-hypnotic",
            "--at", "2026-11-20 08:00")
    assert r.exit_code == 0, r.stderr


def start(cli, mrn, lot, drawn, at):
    r = cli("start-session", mrn, "--bp", "124/80", "--hr", "72", "--lot", lot,
            "--drawn-mg", drawn, "--at", f"{DAY} {at}", "--json")
    assert r.exit_code == 0, r.stderr
    return r.json["data"]["session_id"]


def discharge(cli, sid, at, *extra):
    return cli("discharge", sid, "--aldrete", "10", "--bp", "126/80", "--hr", "74",
               "--transport", "escort", "--at", f"{DAY} {at}", *extra, "--json")


@pytest.fixture
def clinic_day(cli, db_path):
    """Three patients, two lots, one wasted partial vial, one session still open."""
    for mrn in ("C-1", "C-2", "C-3"):
        screen(cli, mrn)
    s1 = start(cli, "C-1", "LOT-A", "50", "06:00")  # 40 mg planned, 10 mg wasted
    s2 = start(cli, "C-2", "LOT-A", "40", "06:05")  # 40 mg, nothing left
    s3 = start(cli, "C-3", "LOT-B", "40", "07:30")  # open
    r = discharge(cli, s1, "07:20", "--wasted-mg", "10", "--waste-witness", "rn.second")
    assert r.exit_code == 0, r.stderr
    r = discharge(cli, s2, "07:25")
    assert r.exit_code == 0, r.stderr
    return s1, s2, s3


def test_clinic_day_reconciles(cli, clinic_day):
    s1, s2, s3 = clinic_day
    r = cli("report", "controlled", "--since", DAY, "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json["data"]
    by_id = {e["session_id"]: e for e in data["sessions"]}
    assert by_id[s1]["drawn_mg"] == 50 and by_id[s1]["administered_mg"] == pytest.approx(40)
    assert by_id[s1]["wasted_mg"] == 10 and by_id[s1]["waste_witness"] == "rn.second"
    assert by_id[s1]["clinician"] == "nurse.test" and by_id[s1]["patient"] == "C-1"
    assert by_id[s2]["wasted_mg"] == 0 and not by_id[s2]["discrepancy"]
    assert by_id[s3]["status"] == "open" and by_id[s3]["wasted_mg"] is None
    assert data["discrepancies"] == 0
    lots = {t["lot"]: t for t in data["lots"]}
    assert lots["LOT-A"]["drawn_mg"] == 90
    assert lots["LOT-A"]["administered_mg"] == pytest.approx(80)
    assert lots["LOT-A"]["wasted_mg"] == 10
    assert lots["LOT-A"]["unaccounted_mg"] == pytest.approx(0)
    assert lots["LOT-B"]["open"] == 1 and lots["LOT-B"]["sessions"] == 1


def test_discrepancy_is_flagged(cli, db_path):
    screen(cli, "D-1")
    sid = start(cli, "D-1", "LOT-C", "50", "06:00")
    r = discharge(cli, sid, "07:20")  # 10 mg drawn but neither given nor wasted
    assert r.exit_code == 0
    assert "neither administered nor wasted" in r.stderr
    data = cli("report", "controlled", "--json").json["data"]
    (e,) = data["sessions"]
    assert e["discrepancy"] is True and e["unaccounted_mg"] == pytest.approx(10)
    assert data["discrepancies"] == 1
    human = cli("report", "controlled").stdout
    assert "!! +10.0 mg" in human


def test_csv_opens_cleanly(cli, clinic_day):
    r = cli("report", "controlled", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    table = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
    assert [row["status"] for row in table] == ["closed", "closed", "open",
                                                "lot-total", "lot-total"]
    totals = {row["lot"]: row for row in table if row["status"] == "lot-total"}
    assert float(totals["LOT-A"]["drawn_mg"]) == 90
    assert float(totals["LOT-A"]["wasted_mg"]) == 10
    assert totals["LOT-A"]["unaccounted_mg"] == "0.0"  # never "-0.0"
    assert table[0]["lot"] == "LOT-A" and float(table[0]["drawn_mg"]) == 50
    assert set(table[0]) == {"session_id", "date", "patient", "lot", "drawn_mg",
                             "administered_mg", "wasted_mg", "waste_witness", "clinician",
                             "status", "unaccounted_mg", "discrepancy"}
    assert r.stdout_bytes.count(b"\r\n") == 6  # header, 3 sessions, 2 lots: spreadsheet ends


def test_ledger_is_audited(cli, db_path, clinic_day):
    s1 = clinic_day[0]
    (detail,) = query(db_path, "SELECT detail FROM audit WHERE action = 'discharge' "
                               "AND entity_id = ?", (s1,))[0:1]
    assert '"waste_witness":"rn.second"' in detail[0] and '"wasted_mg":10.0' in detail[0]
    (start_detail,) = query(db_path, "SELECT detail FROM audit WHERE action = 'start' "
                                     "AND entity_id = ?", (s1,))
    assert '"drawn_mg":50.0' in start_detail[0] and '"lot":"LOT-A"' in start_detail[0]


@pytest.mark.parametrize("extra, needle", [
    (["--wasted-mg", "5"], "witness"),
    (["--wasted-mg", "-5", "--waste-witness", "rn.second"], "wasted"),
    (["--wasted-mg", "15", "--waste-witness", "rn.second"], "exceed"),
    (["--delivered-mg", "-1"], "delivered"),
    (["--wasted-mg", "5", "--waste-witness", "nurse.test"], "witness"),
])
def test_bad_amounts_store_nothing(cli, db_path, extra, needle):
    screen(cli, "B-1")
    sid = start(cli, "B-1", "LOT-A", "50", "06:00")
    before = query(db_path, "SELECT count(*) FROM discharges")[0][0]
    r = discharge(cli, sid, "07:20", *extra)
    assert r.exit_code == 2, r.stdout
    assert r.stderr.startswith("error:") and needle in r.stderr.splitlines()[0]
    assert query(db_path, "SELECT count(*) FROM discharges")[0][0] == before


@pytest.mark.parametrize("lot", ["LOT-\u00e9", "LOT\x07", "", "X" * 41])
def test_lot_must_be_printable_ascii(cli, db_path, lot):
    screen(cli, "L-1")
    r = cli("start-session", "L-1", "--bp", "124/80", "--hr", "72", "--lot", lot,
            "--at", f"{DAY} 06:00")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --lot")
    assert query(db_path, "SELECT count(*) FROM sessions")[0][0] == 0


def test_negative_drawn_is_refused(cli, db_path):
    screen(cli, "N-1")
    r = cli("start-session", "N-1", "--bp", "124/80", "--hr", "72", "--drawn-mg", "-40",
            "--at", f"{DAY} 06:00")
    assert r.exit_code == 2
    assert query(db_path, "SELECT count(*) FROM sessions")[0][0] == 0


def test_monitoring_record_matches_observations(cli, db_path):
    screen(cli, "M-1")
    sid = start(cli, "M-1", "LOT-M", "40", "06:00")
    for minute, bp, extra in ((10, "130/84", ["--moaas", "4"]),
                              (20, "138/88", ["--dissociation", "3"]),
                              (38, "150/94", ["--moaas", "3"]),
                              (50, "140/88", ["--spo2", "89"])):
        r = cli("log-vitals", sid, "--bp", bp, "--hr", "80", *extra,
                "--at", f"{DAY} 06:{minute:02d}")
        assert r.exit_code == 0, r.stderr
    r = discharge(cli, sid, "07:20")
    assert r.exit_code == 0, r.stderr
    m = cli("summary", sid, "--json").json["data"]["monitoring"]
    stored = query(db_path, "SELECT phase, sbp, dbp, minutes_into_infusion FROM observations "
                            "WHERE session_id = ? ORDER BY at", (sid,))
    pre = next(o for o in stored if o[0] == "pre")
    dis = next(o for o in stored if o[0] == "discharge")
    near40 = min((o for o in stored if o[0] != "pre"), key=lambda o: abs(o[3] - 40))
    assert m["bp_pre"] == f"{pre[1]}/{pre[2]}" == "124/80"
    assert m["bp_40min"] == f"{near40[1]}/{near40[2]}" == "150/94"
    assert m["bp_discharge"] == f"{dis[1]}/{dis[2]}" == "126/80"
    assert m["monitoring_minutes"] == 80
    assert m["sedation"] is True  # MOAA/S 3 at 38 minutes
    assert m["dissociation"] is True
    assert m["respiratory_depression"] is True  # SpO2 89 is a critical alert
    assert m["lot"] == "LOT-M"
    assert m["concomitant_meds"] == ["sedative-hypnotic"]
    human = cli("summary", sid).stdout
    assert "Monitoring record" in human and "~40 min 150/94" in human
