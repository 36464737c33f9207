"""A package, so that its test modules may share a name with one in another folder
(tests/cli/test_db.py and tests/store/test_db.py). Shared helpers are plain modules in tests/."""
