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
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any

LINE_END = "\n"


def writer(fh) -> Any:
    """A `csv.writer` on `fh` in ketacli's dialect."""
    return csv.writer(fh, lineterminator=LINE_END)


def dict_writer(fh, fieldnames: Sequence[str], **options) -> csv.DictWriter:
    """A `csv.DictWriter` on `fh` in ketacli's dialect; `options` (e.g. restval,
    extrasaction) go to csv.DictWriter unchanged."""
    return csv.DictWriter(fh, fieldnames=fieldnames, lineterminator=LINE_END, **options)


def data_writer(fh) -> Any:
    """A `csv.writer` for a file another program imports as data (the REDCap import file):
    the same dialect, cells written exactly as they are."""
    return csv.writer(fh, lineterminator=LINE_END)
