"""The clinic protocol: built-in defaults equal the contract's, and TOML overrides are checked."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import CONTRACT_DEFAULTS

from ketacli import protocol
from ketacli.errors import Invalid


def write(tmp_path, text, name="clinic.toml"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


class TestDefaults:
    def test_equal_the_contract(self):
        assert protocol.load().as_dict() == CONTRACT_DEFAULTS

    def test_attribute_access(self):
        p = protocol.load()
        for section, keys in CONTRACT_DEFAULTS.items():
            for key, value in keys.items():
                got = getattr(getattr(p, section), key)
                # pairs and code lists are tuples on the object, lists in the TOML
                assert (list(got) if isinstance(got, tuple) else got) == value, f"{section}.{key}"

    def test_every_key_is_built_in(self):
        rows = list(protocol.load().flat())
        assert len(rows) == sum(len(v) for v in CONTRACT_DEFAULTS.values())
        assert {src for _, _, src in rows} == {"built-in"}

    def test_every_threshold_has_a_note(self):
        # `protocol show` explains how each number reads; the code lists need no note.
        numeric = {k for k, v, _ in protocol.load().flat()
                   if not (isinstance(v, list) and v and isinstance(v[0], str))}
        assert numeric == set(protocol.KEY_NOTES)

    def test_low_keys_read_below(self):
        for key, note in protocol.KEY_NOTES.items():
            if key.startswith("alerts."):
                assert note.endswith("alert when <" if key.endswith("_low") else "alert when >=")

    def test_unknown_key_attribute(self):
        p = protocol.load()
        with pytest.raises(AttributeError):
            _ = p.alerts.nonsense
        with pytest.raises(AttributeError):
            _ = p.nonsense

    def test_read_only(self):
        p = protocol.load()
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.alerts.sbp = (1, 2)  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.alerts = protocol.Alerts()  # type: ignore[misc]
        with pytest.raises(TypeError):
            p.sources["alerts.sbp"] = "x"  # type: ignore[index]

    def test_loading_twice_is_independent(self, tmp_path):
        f = write(tmp_path, "[dose]\nmax_mg_per_kg = 0.8\n")
        assert protocol.load(f).dose.max_mg_per_kg == 0.8
        assert protocol.load().dose.max_mg_per_kg == 1.0


class TestOverrides:
    def test_values_and_sources(self, tmp_path):
        f = write(tmp_path, "[alerts]\nsbp = [150, 175]\n[schedule]\ninduction_sessions = 3\n"
                            '[screening]\nreview_meds = ["benzodiazepine"]\n')
        p = protocol.load(f)
        assert p.alerts.sbp == (150, 175)
        assert p.schedule.induction_sessions == 3
        assert p.screening.review_meds == ("benzodiazepine",)
        assert p.alerts.dbp == (100, 110)  # untouched keys keep their defaults
        sources = {k: s for k, _, s in p.flat()}
        assert sources["alerts.sbp"] == str(f)
        assert sources["schedule.induction_sessions"] == str(f)
        assert sources["screening.review_meds"] == str(f)
        assert sources["alerts.dbp"] == "built-in"
        assert sum(1 for s in sources.values() if s != "built-in") == 3

    def test_int_given_for_a_number_key(self, tmp_path):
        p = protocol.load(write(tmp_path, "[dose]\nmax_mg_per_kg = 1\n"))
        assert p.dose.max_mg_per_kg == 1.0
        assert isinstance(p.dose.max_mg_per_kg, float)

    def test_empty_list_clears_a_list(self, tmp_path):
        p = protocol.load(write(tmp_path, "[screening]\nreview_meds = []\n"))
        assert p.screening.review_meds == ()

    def test_empty_file_is_the_defaults(self, tmp_path):
        p = protocol.load(write(tmp_path, ""))
        assert p.as_dict() == CONTRACT_DEFAULTS

    def test_unknown_key(self, tmp_path):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, "[alerts]\nsbp_high = [160, 180]\n"))
        assert exc.value.exit_code == 2
        assert "alerts.sbp_high" in exc.value.message

    def test_unknown_section(self, tmp_path):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, "[alert]\nsbp = [160, 180]\n"))
        assert exc.value.exit_code == 2
        assert "alert" in exc.value.message

    def test_top_level_key(self, tmp_path):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, "valid_days = 10\n"))
        assert "valid_days" in exc.value.message

    @pytest.mark.parametrize(("text", "key"), [
        ('[dose]\nmax_mg_per_kg = "one"\n', "dose.max_mg_per_kg"),
        ("[dose]\nmax_mg_per_kg = 0\n", "dose.max_mg_per_kg"),
        ("[dose]\nmax_mg_per_kg = true\n", "dose.max_mg_per_kg"),
        ("[screening]\nvalid_days = 30.5\n", "screening.valid_days"),
        ("[screening]\nvalid_days = -1\n", "screening.valid_days"),
        ('[screening]\nvalid_days = "30"\n', "screening.valid_days"),
        ("[screening]\nvalid_days = true\n", "screening.valid_days"),
        ("[alerts]\nsbp = 160\n", "alerts.sbp"),
        ("[alerts]\nsbp = [160, 180, 200]\n", "alerts.sbp"),
        ('[alerts]\nsbp = ["160", "180"]\n', "alerts.sbp"),
        ("[infusion]\nhold_bp = [160]\n", "infusion.hold_bp"),
        ('[screening]\nreview_meds = "benzodiazepine"\n', "screening.review_meds"),
        ("[screening]\nreview_meds = [1, 2]\n", "screening.review_meds"),
        ("[discharge]\nmax_hr = [110, 120]\n", "discharge.max_hr"),
    ])
    def test_wrong_type_names_the_key(self, tmp_path, text, key):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, text))
        assert exc.value.exit_code == 2
        assert key in exc.value.message

    def test_section_not_a_table(self, tmp_path):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, "dose = 1\n"))
        assert "dose" in exc.value.message

    @pytest.mark.parametrize(("text", "key"), [
        ("[alerts]\nsbp = [180, 160]\n", "alerts.sbp"),
        ("[alerts]\nspo2_low = [90, 94]\n", "alerts.spo2_low"),
        ("[dose]\ndefault_mg_per_kg = 1.5\n", "dose.default_mg_per_kg"),
    ])
    def test_inconsistent_values(self, tmp_path, text, key):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, text))
        assert key in exc.value.message

    def test_not_toml(self, tmp_path):
        with pytest.raises(Invalid) as exc:
            protocol.load(write(tmp_path, "[dose\nmax = \n"))
        assert exc.value.exit_code == 2

    def test_missing_file(self, tmp_path):
        with pytest.raises(Invalid) as exc:
            protocol.load(tmp_path / "nope.toml")
        assert exc.value.exit_code == 2
        assert "not found" in exc.value.message
