"""Results of a few lines (a logged reading and its alerts), without Rich.

A chair nurse runs `log-vitals` many times an hour: its view is a handful of lines, so
it is built as (text, style) pairs, printed through Rich only where styles show (a
colour terminal) and as plain lines, wrapped at the width, everywhere else.
"""

from __future__ import annotations

LEVEL_STYLE = {"critical": "bold white on red", "warning": "bold yellow"}
LEVEL_MARK = {"critical": "!! CRITICAL", "warning": "! warning"}
Line = tuple[str, str | None]


def alert_lines(alerts: list[dict]) -> list[Line]:
    return [(f"{LEVEL_MARK[a['level']]}: {a['message']}", LEVEL_STYLE[a["level"]])
            for a in alerts]


def values_text(o: dict) -> str:
    """A reading's values: 'BP 128/84  HR 80  SpO2 97'."""
    bits = []
    if o.get("sbp") is not None:
        bits.append(f"BP {o['sbp']}/{o['dbp']}")
    for key, label in (("hr", "HR"), ("spo2", "SpO2"), ("rr", "RR"), ("etco2", "EtCO2"),
                       ("moaas", "MOAA/S"), ("dissociation", "dissociation")):
        if o.get(key) is not None:
            bits.append(f"{label} {o[key]}")
    return "  ".join(bits)


def _whole(minutes: float) -> str:
    """Minutes into the infusion as a nurse counts them: whole minutes gone (31.3 -> 31)."""
    return str(int(minutes))


def observation_lines(d: dict, mrn: str) -> list[Line]:
    # who and when on one line, the values on the next: at 80 columns a reading never
    # breaks between its BP and its HR
    head = (f"Observation {d['observation_id']}  session {d['session_id']}, {mrn}  "
            f"{_whole(d['minutes_into_infusion'])} min in ({d['phase']})")
    late = [(f"Late entry: {d['late']}", None)] if d.get("late") else []
    return [(head, None), (f"  {values_text(d)}", None), *late,
            *(alert_lines(d["alerts"]) or [("no alerts", None)])]
