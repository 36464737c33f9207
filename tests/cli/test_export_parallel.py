"""Large tables are exported by worker processes; the bytes must not change."""

from __future__ import annotations


def test_parallel_csv_is_byte_identical(cli, tmp_path, monkeypatch):
    assert cli("demo", "--patients", "5", "--seed", "9").exit_code == 0
    cli("void", "observation", "3", "--reason", "wrong chair")
    single, parallel = tmp_path / "single.csv", tmp_path / "parallel.csv"
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "1")
    assert cli("export", "observations", "--format", "csv", "--output", single).exit_code == 0
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "2")
    monkeypatch.setenv("KETACLI_EXPORT_PARALLEL_ROWS", "1")
    r = cli("export", "observations", "--format", "csv", "--output", parallel)
    assert r.exit_code == 0, r.stderr
    data = parallel.read_bytes()
    assert data == single.read_bytes()
    lines = data.decode().splitlines()
    assert lines[0].startswith("observation_id,session_id,patient")
    assert not any(line.startswith("3,") for line in lines[1:])  # the voided row
    assert len(lines) > 100
