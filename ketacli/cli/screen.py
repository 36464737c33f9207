"""`screen MRN --weight KG --bp SYS/DIA --hr BPM [options]`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings, warn
from ketacli.cli.options import At, Json, Mrn, Note

PHQ9_PROMPTS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself",
    "Trouble concentrating on things",
    "Moving or speaking slowly, or being fidgety or restless",
    "Thoughts that you would be better off dead or of hurting yourself",
)


def register(app: typer.Typer) -> None:
    app.command("screen", short_help="Screening: vitals, scales, decision and reasons.")(screen)


@command
def screen(
    mrn: Mrn,
    weight: Annotated[float, typer.Option("--weight", help="Body weight, kg (20-350).")],
    bp: Annotated[str, typer.Option("--bp", help="Blood pressure SYS/DIA, mmHg.")],
    hr: Annotated[int, typer.Option("--hr", help="Heart rate, /min (20-250).")],
    height: Annotated[float | None, typer.Option("--height", help="Height, cm.")] = None,
    spo2: Annotated[int | None, typer.Option("--spo2", help="SpO2, % (50-100).")] = None,
    indication: Annotated[str | None, typer.Option(
        "--indication", help="trd, mdd, bipolar-depression, anxiety, ptsd, ocd, pain, other.")] = None,
    phq9: Annotated[str | None, typer.Option(
        "--phq9", help="Nine PHQ-9 item scores 0-3, e.g. 2,2,2,2,1,1,2,0,0.")] = None,
    gad7: Annotated[str | None, typer.Option("--gad7", help="Seven GAD-7 item scores 0-3.")] = None,
    madrs: Annotated[int | None, typer.Option("--madrs", help="MADRS total 0-60.")] = None,
    pcl5: Annotated[int | None, typer.Option("--pcl5", help="PCL-5 total 0-80.")] = None,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", help="Condition code (repeatable; see 'protocol show').")] = None,
    med: Annotated[list[str] | None, typer.Option(
        "--med", help="Medication class (repeatable): benzodiazepine, lamotrigine, stimulant, "
        "maoi, opioid, sedative-hypnotic, other.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name, for a new patient.")] = None,
    dob: Annotated[str | None, typer.Option("--dob", help="Date of birth (new patient).")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="F, M, X or U (new patient).")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone (new patient).")] = None,
    note: Note = None,
    at: At = None,
    json_out: Json = False,
) -> None:
    """Record a pre-treatment screening and its decision (eligible / needs-review / ineligible).

    Creates the patient if new (then --name is required). The decision is never a
    refusal: screen exits 0 whatever it decides.
    """
    from ketacli.clock import CLOCK, parse_at, to_utc_iso, today
    from ketacli.domain import scales, validate
    from ketacli.domain import screening as rules
    from ketacli.errors import Invalid
    from ketacli.store import patients, screenings
    from ketacli.store.db import dumps

    s = settings()
    proto = s.protocol
    mrn = validate.mrn(mrn)
    when = parse_at(at, s.tz)
    weight = validate.number(weight, "--weight", 20, 350)
    height = validate.number(height, "--height", 50, 250)
    sbp, dbp = validate.bp(bp)
    from ketacli.domain.vitals import check_plausible

    check_plausible({"hr": hr, "spo2": spo2})
    if indication is not None and indication not in rules.INDICATIONS:
        raise Invalid(f"--indication must be one of {', '.join(rules.INDICATIONS)}",
                      code="invalid_choice")
    known = rules.known_conditions(proto.screening)
    conditions = tuple(dict.fromkeys(c.strip().lower() for c in condition or []))
    for c in conditions:
        if c not in known:
            raise Invalid("--condition: unknown code", code="invalid_choice",  # never echoed
                          hint="known codes: " + ", ".join(known))
    meds = tuple(dict.fromkeys(m.strip().lower() for m in med or []))
    for m in meds:
        if m not in rules.MED_CLASSES:
            raise Invalid(f"--med must be one of {', '.join(rules.MED_CLASSES)}",
                          code="invalid_choice")
    phq9_items = validate.int_list(phq9, "--phq9", count=9, lo=0, hi=3) if phq9 else None
    gad7_items = validate.int_list(gad7, "--gad7", count=7, lo=0, hi=3) if gad7 else None
    validate.number(madrs, "--madrs", 0, 60)
    validate.number(pcl5, "--pcl5", 0, 80)
    note = validate.free_text(note, "--note", multiline=True)

    store = s.store()
    existing = patients.find(store, mrn)
    new_patient = None
    if existing is None:
        if name is None:
            raise Invalid(f"patient {mrn} is new: --name is required", code="missing_value")
        new_patient = {
            "mrn": mrn, "name": validate.name(name),
            "dob": (d := validate.dob(dob, today(s.tz))) and d.isoformat(),
            "sex": validate.sex(sex), "phone": validate.phone(phone),
        }
    elif any(v is not None for v in (name, dob, sex, phone)):
        warn(f"patient {mrn} exists: --name/--dob/--sex/--phone ignored")

    if phq9_items is None and not json_out and sys.stdin.isatty() and sys.stdout.isatty():
        phq9_items = _prompt_phq9()
    phq9_score = scales.from_items("phq9", phq9_items) if phq9_items else None
    gad7_score = scales.from_items("gad7", gad7_items) if gad7_items else None
    decision = rules.decide(
        rules.ScreeningInput(sbp, dbp, conditions, meds, phq9_score), proto.screening
    )
    screened_on = when.astimezone(s.tz).date()
    now_iso = to_utc_iso(CLOCK.now())
    with store.write() as tx:
        if new_patient:
            pid = patients.add(tx, at=now_iso, **new_patient)
        else:
            pid = existing["id"]
        sid = screenings.add(tx, {
            "patient_id": pid, "at": to_utc_iso(when), "recorded_at": now_iso,
            "clinician": store.actor.clinician, "weight_kg": weight, "height_cm": height,
            "sbp": sbp, "dbp": dbp, "hr": hr, "spo2": spo2, "indication": indication,
            "phq9_items": dumps(phq9_items) if phq9_items else None,
            "phq9_total": phq9_score.total if phq9_score else None,
            "gad7_items": dumps(gad7_items) if gad7_items else None,
            "gad7_total": gad7_score.total if gad7_score else None,
            "madrs_total": madrs, "pcl5_total": pcl5,
            "conditions": dumps(list(conditions)), "meds": dumps(list(meds)),
            "decision": decision.decision, "reasons": dumps(decision.reasons),
            "suicide_risk_flag": int(decision.suicide_risk_flag),
            "valid_until": rules.valid_until(screened_on, proto.screening).isoformat(),
            "note": note,
        }, mrn=mrn)
    full = screenings.as_result(screenings.get(store, sid), mrn)
    keys = ("screening_id", "patient", "decision", "reasons", "suicide_risk_flag", "valid_until",
            "phq9", "gad7", "madrs", "pcl5")
    data = {k: full[k] for k in keys} | {"at": full["at"], "new_patient": bool(new_patient)}
    if phq9_items is None and not json_out:
        warn("no PHQ-9 recorded: response trends need a baseline score")

    def human(con):
        from ketacli.render.screening import screening_panel

        con.print(screening_panel(full, s.tz))

    emit(data, json_out, human)


def _prompt_phq9() -> list[int] | None:
    """Ask the nine PHQ-9 items on a terminal (over the last 2 weeks, 0-3). Blank skips."""
    from rich.prompt import Prompt

    from ketacli.cli.common import console

    con = console(stderr=True)
    con.print("PHQ-9: over the last 2 weeks, how often has the patient been bothered by... "
              "(0 not at all, 1 several days, 2 more than half the days, 3 nearly every day; "
              "Enter on the first item skips)")
    items: list[int] = []
    for i, text in enumerate(PHQ9_PROMPTS, 1):
        while True:
            answer = Prompt.ask(f"  {i}. {text}", console=con, default="" if i == 1 else None,
                                show_default=False)
            answer = (answer or "").strip()
            if i == 1 and answer == "":
                return None
            if answer in ("0", "1", "2", "3"):
                items.append(int(answer))
                break
            con.print("    enter 0, 1, 2 or 3")
    return items
