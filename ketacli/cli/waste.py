"""`waste SESSION_ID --mg MG --witness NAME [--at] [--late REASON]`: ketamine wasted,
witnessed, for an open session, a recently discharged one (--late) or a voided one."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import At, Json, Late


@command
def waste(
    session_id: Annotated[int, typer.Argument(metavar="SESSION_ID", help="Session id.")],
    mg: Annotated[float | None, typer.Option(
        "--mg", help="Amount wasted, mg (kept to 0.1 mg).")] = None,
    witness: Annotated[str | None, typer.Option(
        "--witness", help="The second person who saw it wasted (not you).")] = None,
    at: At = None,
    late: Late = None,
    json_out: Json = False,
) -> None:
    """Record ketamine wasted for a session, witnessed by a second person.

    The controlled-substance ledger counts it with the discharge's --wasted-mg; given plus
    all waste may not exceed what was drawn. A discharged session needs --late REASON
    (within records.late_entry_hours); a voided session's drawn amount is reconciled here.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import corrections
    from ketacli.render.out import emit
    from ketacli.store import sessions

    s = settings()
    form = corrections.WasteForm.parse(session_id=session_id, mg=mg, witness=witness, at=at,
                                       late=late, clinician=s.who, tz=s.tz)
    store = s.store(create=False)
    sessions.get(store, session_id)
    with store.write() as tx:
        sess = sessions.ref(sessions.get(tx, session_id))
        events = sessions.infusion_events(tx, session_id)
        w = corrections.waste(form, sess, events, clinician=store.actor.clinician,
                              now=CLOCK.now(), hours=s.protocol.records.late_entry_hours, tz=s.tz)
        wid = sessions.add_waste(tx, w, mrn=sess.mrn)
    data = corrections.waste_result(w, wid, sess, events)

    def human(con):
        from ketacli.render.session import waste_line

        con.print(waste_line(data))

    emit(data, json_out, human)
