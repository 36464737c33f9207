"""Deprecated location of `not_voided` (moved to store.voids), kept until export moves."""

from ketacli.store.voids import not_voided

__all__ = ["not_voided"]
