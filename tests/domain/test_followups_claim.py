"""The claim window of `followup due --claim` (reminders.claim_minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ketacli.domain.followups import claim_cutoff

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def test_claims_last_claim_minutes():
    assert claim_cutoff(NOW, 60) == NOW - timedelta(minutes=60)
    assert claim_cutoff(NOW, 1440) == NOW - timedelta(days=1)


def test_zero_minutes_expires_a_claim_at_once():
    assert claim_cutoff(NOW, 0) is None
