"""The one way ketacli writes CSV.

Every CSV the program writes goes through these two functions, so the dialect is
decided once: the `csv` module's default quoting (a cell is quoted only when it
holds a comma, a quote or a line break; quotes are doubled), `None` as an empty
cell, and lines ending in "\\n".

    w = csv_writer.writer(fh)             # a csv.writer: w.writerow(seq), w.writerows(rows)
    w = csv_writer.dict_writer(fh, ["followup_id", "patient", ...])
    w.writeheader(); w.writerow({...})    # a csv.DictWriter

`fh` is any text stream: a file opened with newline="" (as cli/output.atomic does),
sys.stdout, or an io.StringIO(newline="").

Formula injection: a text cell beginning with `=`, `+`, `-`, `@`, tab or CR is written
with a leading `'`, so a spreadsheet shows a name like `=HYPERLINK(...)` as text instead
of running it. Numbers are never touched (-5 stays a number), nor is a cell that is only a
number or a phone number (`+1 555 0101`, `-12.5`: digits, spaces, `( ) . -` after a sign),
which cannot call a function or reference a cell: an apostrophe there would break the
E.164 numbers `followup due` hands to an SMS gateway. Only the REDCap import file, which
REDCap reads as data, passes `neutralize=False`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from typing import Any

LINE_END = "\n"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a signed number or phone number: no letter, quote, `!`, `|` or `:`, so no function call,
# cell reference or DDE link a spreadsheet could run
PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ().-]*")


def neutral(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made plain text."""
    if (isinstance(value, str) and value.startswith(FORMULA_START)
            and not PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


class _Neutral:
    """A csv.writer whose text cells are neutralized (see `neutral`)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.dialect = inner.dialect

    def writerow(self, row) -> Any:
        return self._inner.writerow([neutral(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self._inner.writerow([neutral(v) for v in row])


def writer(fh, *, neutralize: bool = True) -> Any:
    """A `csv.writer` on `fh` in ketacli's dialect."""
    w = csv.writer(fh, lineterminator=LINE_END)
    return _Neutral(w) if neutralize else w


def dict_writer(fh, fieldnames: Sequence[str], *, neutralize: bool = True,
                **options) -> csv.DictWriter:
    """A `csv.DictWriter` on `fh` in ketacli's dialect; `options` (e.g. restval,
    extrasaction) go to csv.DictWriter unchanged."""
    w = csv.DictWriter(fh, fieldnames=fieldnames, lineterminator=LINE_END, **options)
    if neutralize:
        w.writer = _Neutral(w.writer)  # type: ignore[assignment]
    return w


def data_writer(fh) -> Any:
    """A `csv.writer` for a file another program imports as data (the REDCap import file,
    which the contract exempts from formula escaping): cells written exactly as they are."""
    return writer(fh, neutralize=False)
