"""The clinic key file (ketacli.store.keys): created once, exclusively, 0600; never replaced;
a file that is not a key is refused; one key derives distinct secrets for distinct uses."""

from __future__ import annotations

import pytest
from helpers import mode

from ketacli.errors import StorageError
from ketacli.store import keys


def test_created_once_private_and_then_loaded(tmp_path):
    path = tmp_path / "clinic.key"
    first = keys.load_or_create(path)
    assert mode(path) == 0o600
    assert keys.load_or_create(path) == first == keys.load(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.key"]  # no temp file left


def test_a_missing_key_is_none_and_a_bad_one_refused(tmp_path):
    assert keys.load(tmp_path / "none.key") is None
    bad = tmp_path / "bad.key"
    for text in ("", "not a key\n", "ketacli-clinic-key v1 abcd\n", "zz" * 32):
        bad.write_text(text)
        with pytest.raises(StorageError, match="not a ketacli key"):
            keys.load(bad)
        with pytest.raises(StorageError):
            keys.load_or_create(bad)  # never replaced by a new key
        assert bad.read_text() == text


def test_derived_secrets_differ_by_use_and_by_key():
    a, b = keys.ClinicKey(b"\x01" * 32), keys.ClinicKey(b"\x02" * 32)
    assert len({a.chain, a.key_id.encode(), a.cipher.encode()}) == 3
    assert a.chain != b.chain and a.key_id != b.key_id and a.cipher != b.cipher
    assert len(a.key_id) == 32 and a.cipher.startswith("x'") and len(a.cipher) == 67


def test_the_env_names_the_key_file(tmp_path, monkeypatch):
    assert keys.key_path(tmp_path / "c.db") == tmp_path / "c.db.key"
    monkeypatch.setenv("KETACLI_KEY_FILE", str(tmp_path / "vault.key"))
    assert keys.key_path(tmp_path / "c.db") == tmp_path / "vault.key"


def test_the_mac_is_keyed():
    assert keys.mac(b"k" * 32, "0" * 64, "[1]") != keys.mac(b"j" * 32, "0" * 64, "[1]")
    assert len(keys.mac(b"k" * 32, "0" * 64, "[1]")) == 64
