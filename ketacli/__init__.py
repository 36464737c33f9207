"""ketacli: records of IV ketamine infusion care, kept in one local SQLite file."""

__version__ = "0.1.0"
