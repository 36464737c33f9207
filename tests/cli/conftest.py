"""Fixtures shared by the infusion-day CLI tests (test_screen.py, test_session.py,
test_vitals.py, test_discharge.py, test_void.py, test_options.py). Their helpers are in
tests/infusion_support.py."""

from __future__ import annotations

import pytest
from helpers import counts
from infusion_support import MRN, OTHER, open_session, screened


@pytest.fixture
def live(cli, db_path):
    """MRN has an open session (started 07:40); OTHER is screened and waiting.
    Returns (session id, row counts)."""
    sid = open_session(cli, MRN)
    screened(cli, OTHER)
    return sid, counts(db_path)


@pytest.fixture
def sid(cli):
    """Open session: 80 kg, 40 mg at 60 mg/h from 07:40 (planned end 08:20)."""
    return open_session(cli, MRN)
