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
