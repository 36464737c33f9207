"""`report controlled` and `report outcomes` (ketacli.cli.report; docs/cli-contract.md,
`report controlled` and `report outcomes`; docs/clinical-reference.md, outcome
definitions): the controlled-substance ledger reconciled per session and per lot (table,
CSV, JSON), and the clinic's outcome figures on patients run through screening, infusions
and follow-up assessments with explicit --at times.

Every expected outcome figure is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import csv
import io

import ledger_support as ledger
import pytest
from helpers import build_once, copy_db, query
from ledger_support import DAY
from outcome_support import assess, fails, infusion, ok, screen


# -- report controlled -----------------------------------------------------------------
@pytest.fixture
def clinic_day(cli, db_path):
    """Three patients, two lots, one wasted partial vial, one session still open."""
    for mrn in ("C-1", "C-2", "C-3"):
        ledger.screen(cli, mrn)
    s1 = ledger.start(cli, "C-1", "LOT-A", "50", "06:00")  # 40 mg planned, 10 mg wasted
    s2 = ledger.start(cli, "C-2", "LOT-A", "40", "06:05")  # 40 mg, nothing left
    s3 = ledger.start(cli, "C-3", "LOT-B", "40", "07:30")  # open
    r = ledger.discharge(cli, s1, "07:20", "--wasted-mg", "10", "--waste-witness", "rn.second")
    assert r.exit_code == 0, r.stderr
    r = ledger.discharge(cli, s2, "07:25")
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
    ledger.screen(cli, "D-1")
    sid = ledger.start(cli, "D-1", "LOT-C", "50", "06:00")
    r = ledger.discharge(cli, sid, "07:20")  # 10 mg drawn but neither given nor wasted
    assert r.exit_code == 1 and r.json["error"]["details"][0]["name"] == "accounted"
    # overridden (the pharmacy reconciles later): it closes, and the ledger flags it
    r = ledger.discharge(cli, sid, "07:20", "--override", "vial sent to pharmacy for count",
                         "--cosign", "dr.second")
    assert r.exit_code == 0, r.stderr
    assert "neither administered nor wasted" in r.stderr
    data = cli("report", "controlled", "--json").json["data"]
    (e,) = data["sessions"]
    assert e["discrepancy"] is True and e["unaccounted_mg"] == pytest.approx(10)
    assert data["discrepancies"] == 1
    human = cli("report", "controlled").stdout
    assert "!! +10.0 mg" in human


def test_amounts_kept_to_a_tenth_reconcile(cli, db_path):
    # 124.5 kg x 0.5 mg/kg = 62.25 mg given, kept as 62.3: wasting 37.7 of 100 balances;
    # wasting 37.6 leaves a tenth unaccounted, which is flagged
    for mrn in ("T-1", "T-2"):
        ledger.screen(cli, mrn, weight="124.5")
    s1 = ledger.start(cli, "T-1", "LOT-T", "100", "06:00")
    s2 = ledger.start(cli, "T-2", "LOT-T", "100", "06:05")
    r = ledger.discharge(cli, s1, "07:20", "--wasted-mg", "37.7", "--waste-witness", "rn.b")
    assert r.exit_code == 0, r.stderr
    r = ledger.discharge(cli, s2, "07:20", "--wasted-mg", "37.6", "--waste-witness", "rn.b")
    assert r.exit_code == 1 and "0.1 mg drawn is neither given nor wasted" in r.stderr
    r = ledger.discharge(cli, s2, "07:20", "--wasted-mg", "37.6", "--waste-witness", "rn.b",
                         "--override", "tenth to reconcile with the pharmacy", "--cosign", "dr.b")
    assert r.exit_code == 0, r.stderr
    data = cli("report", "controlled", "--json").json["data"]
    by_id = {e["session_id"]: e for e in data["sessions"]}
    assert (by_id[s1]["administered_mg"], by_id[s1]["wasted_mg"]) == (62.3, 37.7)
    assert (by_id[s1]["unaccounted_mg"], by_id[s1]["discrepancy"]) == (0.0, False)
    assert (by_id[s2]["unaccounted_mg"], by_id[s2]["discrepancy"]) == (0.1, True)
    (lot,) = data["lots"]
    assert (lot["drawn_mg"], lot["administered_mg"], lot["wasted_mg"], lot["unaccounted_mg"]) == (
        200.0, 124.6, 75.3, 0.1)
    assert data["discrepancies"] == 1
    human = cli("report", "controlled").stdout
    assert "!! +0.1 mg" in human and "62.3" in human
    table = list(csv.DictReader(io.StringIO(cli("report", "controlled", "--format", "csv").stdout,
                                            newline="")))
    assert [row["administered_mg"] for row in table[:2]] == ["62.3", "62.3"]
    assert table[2]["unaccounted_mg"] == "0.1"


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
    # header, 3 sessions, 2 lots; the program's one CSV dialect (render/csv_writer.py)
    assert r.stdout_bytes.count(b"\n") == 6 and b"\r" not in r.stdout_bytes


def test_ledger_is_audited(cli, db_path, clinic_day):
    s1 = clinic_day[0]
    (detail,) = query(db_path, "SELECT detail FROM audit WHERE action = 'discharge' "
                               "AND entity_id = ?", (s1,))[0:1]
    assert '"waste_witness":"rn.second"' in detail[0] and '"wasted_mg":10.0' in detail[0]
    (start_detail,) = query(db_path, "SELECT detail FROM audit WHERE action = 'start' "
                                     "AND entity_id = ?", (s1,))
    assert '"drawn_mg":50.0' in start_detail[0] and '"lot":"LOT-A"' in start_detail[0]


# -- report outcomes -------------------------------------------------------------------
@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory, engine):
    """A small clinic, built once per module (copied into each test's database), by hand:

    RA  PHQ-9 20 on 11-01; 6 infusions at 0.5 mg/kg on 11-02 .. 11-12 (every other day);
        side effects nausea + headache (infusion 1), nausea (infusion 2);
        PHQ-9 18 on 11-03 (before infusion 6: not the outcome), 8 on 11-13 (response),
        15 on 11-20 (latest: partial response).
    RB  PHQ-9 16 on 11-01; 6 infusions at 1.0 mg/kg on 11-03 .. 11-13, the first with
        pre-BP 165/95 and --override; PHQ-9 3 on 11-14 (remission).
    RC  screened on 11-15, never treated.
    RD  screened on 11-19; one infusion at 0.5 mg/kg on 11-20 20:00 Chicago (11-21 02:00 UTC),
        side effect dizziness.
    """
    return build_once(tmp_path_factory, "clinic", _build_clinic)[0]


@pytest.fixture
def clinic(clinic_db, db_path):
    copy_db(clinic_db, db_path)


def _build_clinic(cli):
    screen(cli, "RA", "2026-11-01", phq9_total=20)
    screen(cli, "RB", "2026-11-01", phq9_total=16)
    for n, day in enumerate((2, 4, 6, 8, 10, 12), start=1):
        effects = {1: ["nausea", "headache"], 2: ["nausea:moderate"]}.get(n, [])
        infusion(cli, "RA", f"2026-11-{day:02d}", side_effects=effects)
        if n == 1:
            assess(cli, "RA", "2026-11-03 12:00", 18)
    for n, day in enumerate((3, 5, 7, 9, 11, 13), start=1):
        if n == 1:
            fails(cli("start-session", "RB", "--bp", "165/95", "--hr", "72", "--dose", "1.0",
                      "--at", "2026-11-03 09:00"), 1)
            infusion(cli, "RB", "2026-11-03", dose=1.0, bp="165/95", override="BP rechecked 150/90")
        else:
            infusion(cli, "RB", f"2026-11-{day:02d}", dose=1.0)
    assess(cli, "RA", "2026-11-13 10:00", 8)
    assess(cli, "RB", "2026-11-14 10:00", 3)
    screen(cli, "RC", "2026-11-15")
    screen(cli, "RD", "2026-11-19")
    infusion(cli, "RD", "2026-11-20", start="20:00", side_effects=["dizziness:mild"])
    assess(cli, "RA", "2026-11-20 10:00", 15)


def report(cli, *args) -> dict:
    return ok(cli("report", "outcomes", *args, "--json"))


def test_report_outcomes_whole_clinic(cli, clinic):
    d = report(cli)
    assert d["patients_screened"] == 4
    assert d["patients_treated"] == 3
    assert d["sessions"] == 13 and d["sessions_discharged"] == 13
    # (6 x 0.5 + 6 x 1.0 + 0.5) / 13 = 9.5 / 13 = 0.7308
    assert d["mean_dose_mg_per_kg"] == 0.731
    # share of the 13 discharged sessions with the effect
    assert d["side_effect_rates"] == {"nausea": 0.1538, "headache": 0.0769, "dizziness": 0.0769}
    # RA: latest PHQ-9 from infusion 6 on is 15 (-25 %, partial); RB: 3 (remission)
    assert d["patients_completed_induction"] == 2
    assert d["response_rate"] == 0.5
    assert d["remission_rate"] == 0.5
    assert d["overrides"] == {"start": 1, "discharge": 0}
    assert d["since"] is None and d["until"] is None
    # the one alert: RB's pre-infusion BP 165/95 reaches the SBP warning (160)
    assert d["sessions_with_alert"] == 1 and d["alert_rate"] == 0.0769


def test_report_outcomes_human(cli, clinic):
    r = cli("report", "outcomes")
    assert r.exit_code == 0, r.stderr
    assert "nausea" in r.stdout and "dizziness" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_report_outcomes_period(cli, clinic):
    # sessions started 11-12 and 11-13 (clinic zone): RA #6 and RB #6
    d = report(cli, "--since", "2026-11-12", "--until", "2026-11-13")
    assert (d["since"], d["until"]) == ("2026-11-12", "2026-11-13")
    assert d["patients_screened"] == 0
    assert (d["patients_treated"], d["sessions"]) == (2, 2)
    assert d["mean_dose_mg_per_kg"] == 0.75          # (0.5 + 1.0) / 2
    assert d["side_effect_rates"] == {}
    # by the end of 11-13 only RA has an outcome (8: response); RB's comes on 11-14
    assert d["patients_completed_induction"] == 1
    assert (d["response_rate"], d["remission_rate"]) == (1.0, 0.0)
    assert d["overrides"] == {"start": 0, "discharge": 0}

    # up to 11-19: RA's outcome is still 8 (response), RB's is 3 (remission)
    d = report(cli, "--until", "2026-11-19")
    assert d["sessions"] == 12 and d["patients_treated"] == 2 and d["patients_screened"] == 4
    assert (d["response_rate"], d["remission_rate"]) == (1.0, 0.5)
    assert d["overrides"] == {"start": 1, "discharge": 0}
    assert d["side_effect_rates"] == {"nausea": 0.1667, "headache": 0.0833}   # 2/12, 1/12

    # RD's evening infusion is on 11-20 in the clinic zone (11-21 in UTC)
    d = report(cli, "--since", "2026-11-20")
    assert (d["sessions"], d["patients_treated"]) == (1, 1)
    assert d["side_effect_rates"] == {"dizziness": 1.0}
    assert d["response_rate"] is None and d["remission_rate"] is None
    assert d["patients_completed_induction"] == 0
    assert report(cli, "--until", "2026-11-20")["sessions"] == 13

    d = report(cli, "--since", "2026-11-21")
    assert (d["sessions"], d["patients_treated"], d["patients_screened"]) == (0, 0, 0)
    assert d["mean_dose_mg_per_kg"] is None
    assert d["side_effect_rates"] == {}
    assert d["response_rate"] is None
    assert cli("report", "outcomes", "--since", "2026-11-21").exit_code == 0  # empty view renders

    # a single day
    d = report(cli, "--since", "2026-11-02", "--until", "2026-11-02")
    assert d["sessions"] == 1 and d["side_effect_rates"] == {"nausea": 1.0, "headache": 1.0}


def test_report_outcomes_bad_dates(cli):
    fails(cli("report", "outcomes", "--since", "2026-02-30"), 2)
    fails(cli("report", "outcomes", "--until", "next week"), 2)
    fails(cli("report", "outcomes", "--since", "2026-11-10", "--until", "2026-11-09"), 2)
    r = cli("report", "outcomes", "--since", "2026-11-10", "--until", "2026-11-09", "--json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "invalid_period"


def test_report_outcomes_of_an_empty_clinic(cli):
    ok(cli("patient", "add", "E-1", "--name", "Empty Clinic"))
    d = report(cli)
    assert (d["patients_screened"], d["patients_treated"], d["sessions"]) == (0, 0, 0)
    assert d["response_rate"] is None and d["remission_rate"] is None
    assert d["side_effect_rates"] == {} and d["mean_dose_mg_per_kg"] is None


def test_report_ignores_a_voided_outcome(cli, db_path, clinic):
    rb = query(db_path, "SELECT a.id FROM assessments a JOIN patients p "
                        "ON p.id = a.patient_id WHERE p.mrn = 'RB'")
    assert cli("void", "assessment", str(rb[0][0]), "--reason", "entered twice").exit_code == 0
    d = report(cli)
    # RB has no outcome left: only RA (partial) counts
    assert d["patients_completed_induction"] == 1
    assert (d["response_rate"], d["remission_rate"]) == (0.0, 0.0)


def test_ledger_of_a_voided_session_fits_80_columns(cli, db_path):
    """trial2: the '!! VOIDED +30.0 mg' flag squeezed the table until the Witness header
    and the clinician's name broke in two at 80 columns."""
    ledger.screen(cli, "V-1")
    sid = ledger.start(cli, "V-1", "LOT-V", "40", "06:00")
    assert cli("void", "session", str(sid), "--reason", "started on the wrong MRN").exit_code == 0
    r = cli("report", "controlled")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    header = next(line for line in lines if line.startswith("Date"))
    assert "Witness" in header.split() and "Check" in header.split()
    assert any("nurse.test" in line for line in lines)
    assert "VOIDED" in r.stdout and "1 discrepancy on closed sessions" in r.stdout


def test_ledger_staff_names_never_fold_at_80_columns(cli, db_path):
    """review: at 80 columns 'rn.baker' / 'rn.alvarez' folded as 'rn.bake' + 'r' in the
    Witness and By columns, read as another person."""
    ledger.screen(cli, "W-1")
    sid = ledger.start(cli, "W-1", "KET-2611B", "50", "06:00")
    assert cli("waste", str(sid), "--mg", "5", "--witness", "rn.baker.longname").exit_code == 0
    r = cli("report", "controlled")
    assert r.exit_code == 0, r.stderr
    assert any("rn.baker.longname" in line for line in r.stdout.splitlines())
