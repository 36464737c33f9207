"""Writing to the terminal: stdout carries results, stderr status, warnings and errors.

One result, two renderers: the JSON envelope for scripts, a Rich view for people.
Consoles never interpret markup from data and have no colour off a TTY or with NO_COLOR.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def write(stream, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except UnicodeEncodeError:
        stream.write(text.encode("ascii", "backslashreplace").decode("ascii"))
        stream.flush()


def write_utf8(stream, text: str) -> None:
    """Machine output (JSON) as UTF-8 whatever PYTHONIOENCODING or the locale say."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        write(stream, text)
        return
    stream.flush()
    buffer.write(text.encode("utf-8", "replace"))
    buffer.flush()


def print_json(payload: Any) -> None:
    import json

    write_utf8(sys.stdout, json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def console(stderr: bool = False, *, file=None, width: int | None = None):
    """A Rich console: no colour off a TTY or with NO_COLOR, never markup from data, and
    never a raw control, bidi or invisible character from stored text (shown escaped:
    an ESC sequence in a note cannot reach another clinician's terminal)."""
    from rich.console import Console

    class SafeConsole(Console):
        def render(self, renderable, options=None):
            from rich.segment import Segment

            from ketacli.textsafety import escape

            for seg in super().render(renderable, options):
                if seg.control is None and seg.text:
                    text = escape(seg.text)
                    if text is not seg.text:
                        seg = Segment(text, seg.style)
                yield seg

    return SafeConsole(stderr=stderr, file=file, width=width, highlight=False, emoji=False,
                       markup=False)


def print_lines(lines: list[tuple[str, str | None]]) -> None:
    """(text, style) lines: through Rich where styles show (a colour terminal), else as
    plain lines wrapped at the terminal width (COLUMNS, else 80), as Rich would wrap them."""
    import os

    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        from rich.text import Text

        con = console()
        for text, style in lines:
            con.print(Text(text, style=style or ""))
        return
    import shutil
    import textwrap

    width = shutil.get_terminal_size((80, 24)).columns
    for text, _ in lines:
        write(sys.stdout, "\n".join(textwrap.wrap(text, width) or [""]) + "\n")


def warn(message: str) -> None:
    write(sys.stderr, f"warning: {' '.join(message.split())}\n")


def _item(text: str) -> str:
    """One listed line ("  - rule: message"); on a terminal wrapped at its width with the
    continuation indented, never cut mid-word; to a pipe or file, one line for grep."""
    if not sys.stderr.isatty():
        return f"  - {text}\n"
    import shutil
    import textwrap

    width = max(40, shutil.get_terminal_size((80, 24)).columns)
    return textwrap.fill(text, width, initial_indent="  - ", subsequent_indent="    ") + "\n"


def report_error(err, as_json: bool) -> None:
    """A KetaError as one `error:` line (and `hint:` lines) on stderr; with --json the
    error envelope on stdout too."""
    line = " ".join(err.message.split())  # exactly one line
    write(sys.stderr, f"error: {line}\n")
    for item in err.lines:
        write(sys.stderr, _item(" ".join(item.split())))
    if err.hint:
        write(sys.stderr, f"hint: {' '.join(err.hint.split())}\n")
    if as_json:
        body: dict[str, Any] = {"code": str(err.code), "message": line}
        if err.details:
            body["details"] = err.details
        print_json({"error": body})


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """One result, two renderers: the JSON envelope, or `render(console)` for a person."""
    if as_json or render is None:
        print_json({"data": data})
    else:
        render(console())


def emit_lines(data: Any, as_json: bool, lines: Callable[[], list[tuple[str, str | None]]]
               ) -> None:
    """`emit` for a view of a few styled lines (`print_lines`)."""
    if as_json:
        print_json({"data": data})
    else:
        print_lines(lines())
