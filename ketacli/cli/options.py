"""Options and arguments used by more than one command, declared once (Annotated types),
so every command spells, documents and bounds them the same way.

A parameter without a default is required: `bp: Bp` (screen) or `bp: Bp = None`
(log-vitals). Values are validated by the domain (ranges, formats), not here.
"""

from __future__ import annotations

from typing import Annotated

import typer

# -- output ------------------------------------------------------------------------------
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TableFormat = Annotated[str, typer.Option("--format", help="table, csv or json.")]

# -- who and when ------------------------------------------------------------------------
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When it happened: ISO-8601 with offset, 'YYYY-MM-DD HH:MM' or 'HH:MM' "
        "(clinic zone). Default: now. Not more than 5 minutes in the future.",
    ),
]
Since = Annotated[str | None, typer.Option("--since", help="From this date (YYYY-MM-DD), inclusive.")]
Until = Annotated[str | None, typer.Option("--until", help="Up to this date (YYYY-MM-DD), inclusive.")]
Note = Annotated[str | None, typer.Option("--note", help="Free-text note (kept out of logs and errors).")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit log).")]

# -- records -------------------------------------------------------------------------------
Mrn = Annotated[str, typer.Argument(help="The clinic's MRN (1-32 of A-Z a-z 0-9 - _).")]
SessionArg = Annotated[int | None, typer.Argument(
    help="Session id (or use --patient MRN for the patient's open session).", show_default=False)]
PatientOpt = Annotated[str | None, typer.Option(
    "--patient", help="The patient's open session instead of a SESSION_ID.")]
Late = Annotated[str | None, typer.Option(
    "--late", help="A late entry: why it is charted after the fact. Needed on a discharged "
    "session (within records.late_entry_hours, default 24 h, of the discharge).")]

# -- demographics (patient add, screen) ------------------------------------------------------
Name = Annotated[str | None, typer.Option("--name", help="Full name (shown to clinicians only).")]
Dob = Annotated[str | None, typer.Option("--dob", help="Date of birth, YYYY-MM-DD.")]
Sex = Annotated[str | None, typer.Option("--sex", help="F, M, X or U.")]
Phone = Annotated[str | None, typer.Option("--phone", help="Phone for reminders.")]

# -- vital signs -----------------------------------------------------------------------------
Bp = Annotated[str | None, typer.Option(
    "--bp", help="Blood pressure SYS/DIA, mmHg (SBP 50-300, DBP 20-200 and below SBP).")]
Hr = Annotated[int | None, typer.Option("--hr", help="Heart rate, /min (20-250).")]
Spo2 = Annotated[int | None, typer.Option("--spo2", help="SpO2, % (50-100).")]
Weight = Annotated[float | None, typer.Option("--weight", help="Body weight, kg (20-350).")]

# -- rating scales (screen, followup record) ------------------------------------------------
Phq9 = Annotated[str | None, typer.Option(
    "--phq9", help="Nine PHQ-9 item scores 0-3, e.g. 2,2,2,2,1,1,2,0,0.")]
Gad7 = Annotated[str | None, typer.Option("--gad7", help="Seven GAD-7 item scores 0-3.")]
Madrs = Annotated[int | None, typer.Option("--madrs", help="MADRS total 0-60.")]
Pcl5 = Annotated[int | None, typer.Option("--pcl5", help="PCL-5 total 0-80.")]

# -- safety ------------------------------------------------------------------------------------
Override = Annotated[str | None, typer.Option(
    "--override", help="Proceed despite the refusals, with this reason (audited; at least "
    "10 characters by default).")]
Cosign = Annotated[str | None, typer.Option(
    "--cosign", help="The second clinician who reviewed the override (not you).")]

# -- suicide risk and identity (issue 14) --------------------------------------------------------
CssrsOpt = Annotated[str | None, typer.Option(
    "--cssrs", help="C-SSRS screener: questions 1-6 as y/n (3-5 '-' when 2 is n), then "
    "y/n 'within 3 months' only when 6 is y; e.g. y,y,n,n,n,n or n,n,-,-,-,y,n.")]
Address = Annotated[str | None, typer.Option(
    "--address", help="Street, city, state, ZIP (the controlled-substance record needs it).")]
