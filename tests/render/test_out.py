"""The error lines (ketacli.render.out): a refusal's rules one per line, wrapped at the
terminal's width with the continuation indented, never cut mid-word; one line each for a
pipe or a file."""

from __future__ import annotations

import io
import os

from ketacli.errors import Refused
from ketacli.render import out

LONG = ("accounted: 5.8 mg drawn is neither given nor wasted: add --wasted-mg 5.8 "
        "--waste-witness NAME")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_to_a_pipe_each_rule_is_one_line(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(out.sys, "stderr", err)
    out.report_error(Refused("discharge criteria not met: 1 unmet rule", lines=[LONG]), False)
    assert err.getvalue().splitlines() == ["error: discharge criteria not met: 1 unmet rule",
                                           f"  - {LONG}"]


def test_on_an_80_column_terminal_a_rule_wraps_at_a_word(monkeypatch):
    err = _Tty()
    monkeypatch.setattr(out.sys, "stderr", err)
    monkeypatch.setattr("shutil.get_terminal_size",
                        lambda fallback=(80, 24): os.terminal_size((80, 24)))
    out.report_error(Refused("discharge criteria not met: 1 unmet rule", lines=[LONG]), False)
    lines = err.getvalue().splitlines()
    assert lines[1] == "  - accounted: 5.8 mg drawn is neither given nor wasted: add --wasted-mg 5.8"
    assert lines[2] == "    --waste-witness NAME"
    assert all(len(line) <= 80 for line in lines)


def test_json_envelope_message_is_the_error_line(monkeypatch, capsys):
    monkeypatch.setattr(out.sys, "stderr", io.StringIO())
    out.report_error(Refused("cannot start: 1 unmet rule", lines=["dose: too much"],
                             details=[{"name": "dose"}]), True)
    assert '"message": "cannot start: 1 unmet rule"' in capsys.readouterr().out


READING = [("Observation 7  session 3 (MRN-1)  20 min in (intra)  BP 190/104  HR 96  SpO2 97"
            "  RR 14", None), ("!! CRITICAL: SBP 190 mmHg >= 180", "bold white on red")]


def test_lines_off_a_terminal_are_plain_and_wrap_at_a_word(monkeypatch):
    stdout = io.StringIO()
    monkeypatch.setattr(out.sys, "stdout", stdout)
    monkeypatch.setenv("COLUMNS", "80")
    out.print_lines(READING)
    assert stdout.getvalue().splitlines() == [
        "Observation 7  session 3 (MRN-1)  20 min in (intra)  BP 190/104  HR 96  SpO2 97",
        "RR 14", "!! CRITICAL: SBP 190 mmHg >= 180"]


def test_lines_on_a_colour_terminal_are_styled(monkeypatch):
    stdout = _Tty()
    monkeypatch.setattr(out.sys, "stdout", stdout)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "120")
    out.print_lines(READING)
    text = stdout.getvalue()
    assert "\x1b[" in text and "!! CRITICAL: SBP 190 mmHg >= 180" in text


def test_an_observation_line_counts_whole_minutes_into_the_infusion():
    from ketacli.render.lines import observation_lines

    d = {"observation_id": 7, "session_id": 3, "minutes_into_infusion": 31.3, "phase": "intra",
         "sbp": 120, "dbp": 80, "hr": 70, "alerts": []}
    [(head, _), *_] = observation_lines(d, "Ann Example (MRN-1)")
    assert head.endswith("  31 min in (intra)"), head
    d["minutes_into_infusion"], d["phase"] = -4.6, "pre"
    assert observation_lines(d, "MRN-1")[0][0].endswith("  -4 min in (pre)")
