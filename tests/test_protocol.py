"""The typed clinic protocol (ketacli/protocol.py): one frozen dataclass per section, the
metadata of each key, loading and overriding, `sources`, and every validation error."""

from __future__ import annotations

import dataclasses
import json

import pytest
from helpers import CONTRACT_DEFAULTS

from ketacli import protocol
from ketacli.errors import Invalid
from ketacli.protocol import KEYS, SECTIONS, Protocol

SECTION_TYPES = {
    "dose": protocol.Dose, "screening": protocol.Screening, "infusion": protocol.Infusion,
    "alerts": protocol.Alerts, "monitoring": protocol.Monitoring,
    "overrides": protocol.Overrides, "records": protocol.Records,
    "reminders": protocol.Reminders, "discharge": protocol.Discharge,
    "schedule": protocol.Schedule,
}
# One key of each section, a clinic value for it (TOML), and the value on the object.
ONE_KEY_PER_SECTION = [
    ("dose", "max_mg_per_kg", "0.8", 0.8),
    ("screening", "review_bp", "[150, 95]", (150, 95)),
    ("infusion", "min_hours_between", "12", 12),
    ("alerts", "spo2_low", "[92, 88]", (92, 88)),
    ("discharge", "max_bp", "[150.5, 95]", (150.5, 95)),
    ("schedule", "induction_sessions", "4", 4),
    ("records", "late_entry_hours", "8.5", 8.5),
    ("monitoring", "intra_interval_min", "5", 5),
]


def write(tmp_path, text: str, name: str = "clinic.toml"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def toml_of(d: dict) -> str:
    """A TOML file of an as_dict() structure (its values are numbers, and lists of numbers
    or of strings, all of which JSON writes as TOML does)."""
    return "".join(
        f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
        for section, keys in d.items()
    )


class TestTypes:
    def test_sections_are_typed_fields(self):
        p = protocol.load()
        assert list(SECTIONS) == list(SECTION_TYPES) == list(CONTRACT_DEFAULTS)
        for name, cls in SECTION_TYPES.items():
            assert SECTIONS[name] is cls
            assert type(getattr(p, name)) is cls
        assert [f.name for f in dataclasses.fields(Protocol)] == [*SECTION_TYPES, "sources"]

    def test_keys_are_the_contract_keys_in_file_order(self):
        assert list(KEYS) == [f"{s}.{k}" for s, keys in CONTRACT_DEFAULTS.items() for k in keys]

    def test_load_without_a_file_is_the_built_in_protocol(self):
        assert protocol.load() == Protocol()
        assert protocol.load(None) == protocol.load("") == Protocol()

    def test_value_types(self):
        p = protocol.load()
        assert p.alerts.sbp == (160, 180)
        assert p.screening.review_meds == ("benzodiazepine", "lamotrigine", "maoi", "stimulant")
        assert isinstance(p.dose.max_mg_per_kg, float)
        assert isinstance(p.schedule.induction_sessions, int)
        for dotted, spec in KEYS.items():
            section, key = dotted.split(".")
            value = getattr(getattr(p, section), key)
            expected = {"int": int, "number": float, "pair": tuple, "codes": tuple, "bool": bool,
                        "choice": str}[spec.kind]
            assert type(value) is expected, dotted
            if spec.kind == "pair":
                assert len(value) == 2 and all(type(v) in (int, float) for v in value), dotted
            if spec.kind == "codes":
                assert all(type(v) is str for v in value), dotted

    @pytest.mark.parametrize("cls", [*SECTION_TYPES.values(), Protocol])
    def test_frozen(self, cls):
        obj = cls()
        name = dataclasses.fields(obj)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, getattr(obj, name))
        with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
            obj.not_a_key = 1  # no new attributes either

    def test_sources_read_only(self):
        with pytest.raises(TypeError):
            protocol.load().sources["alerts.sbp"] = "x"  # type: ignore[index]

    def test_replace_makes_a_new_protocol(self):
        # the typed way to derive a protocol (tests, future callers): the original is unchanged
        p = protocol.load()
        q = dataclasses.replace(p, alerts=dataclasses.replace(p.alerts, sbp=(150, 170)))
        assert q.alerts.sbp == (150, 170) and p.alerts.sbp == (160, 180)


class TestMetadata:
    def test_every_key_has_a_spec_from_its_field(self):
        for dotted, spec in KEYS.items():
            section, key = dotted.split(".")
            f = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == key)
            assert spec.key == dotted
            assert spec.kind == f.metadata["kind"] and spec.meaning == f.metadata["meaning"]

    def test_meanings_are_the_notes(self):
        assert dict(protocol.KEY_NOTES) == {k: s.meaning for k, s in KEYS.items() if s.meaning}
        assert all(s.meaning for s in KEYS.values() if s.kind != "codes")
        assert all(s.unit for s in KEYS.values() if s.kind not in ("codes", "bool", "choice"))

    def test_pair_kinds(self):
        for dotted, spec in KEYS.items():
            assert (spec.kind == "pair") == (spec.pair is not None), dotted
            if dotted.startswith("alerts."):
                assert spec.pair == ("low" if dotted.endswith("_low") else "high"), dotted
            elif dotted == "infusion.hold_hr":
                assert spec.pair == "range"
            elif spec.kind == "pair":
                assert dotted.endswith("_bp") and spec.pair == "bp", dotted

    def test_bounds_shape(self):
        # issue 15 fills and enforces them; until then a given bound is a (lo, hi) pair
        for spec in KEYS.values():
            assert spec.bounds is None or (len(spec.bounds) == 2 and spec.bounds[0] < spec.bounds[1])

    def test_key_metadata_helper(self):
        m = protocol.key("pair", "mmHg", unit="mmHg", bounds=(0, 300), pair="high")
        assert m == {"kind": "pair", "meaning": "mmHg", "unit": "mmHg", "bounds": (0, 300),
                     "pair": "high", "choices": ()}
        with pytest.raises(TypeError):
            protocol.key("choice", "a choice without its choices")
        with pytest.raises(TypeError):
            protocol.key("pair", "no kind of pair")
        with pytest.raises(TypeError):
            protocol.key("int", "a pair kind on a number", pair="high")


class TestAsDictAndSources:
    def test_as_dict_is_the_toml_structure(self):
        d = protocol.load().as_dict()
        assert d == CONTRACT_DEFAULTS
        # lists, and the numbers as written: ints stay ints, numbers are floats
        assert json.dumps(d["alerts"]["sbp"]) == "[160, 180]"
        assert json.dumps(d["dose"]) == (
            '{"default_mg_per_kg": 0.5, "max_mg_per_kg": 1.0, "default_duration_min": 40, '
            '"hard_max_mg_per_kg": 1.5, "hard_max_mg": 150.0, "weight_change_pct": 10.0, '
            '"weight_basis": "actual", "basis_bmi_threshold": 30.0}'
        )

    def test_a_file_of_as_dict_round_trips(self, tmp_path):
        f = write(tmp_path, toml_of(CONTRACT_DEFAULTS))
        p = protocol.load(f)
        assert p == dataclasses.replace(Protocol(), sources=p.sources)
        assert p.as_dict() == CONTRACT_DEFAULTS
        assert set(p.sources.values()) == {str(f)}

    def test_flat_matches_as_dict_and_sources(self, tmp_path):
        f = write(tmp_path, "[alerts]\nsbp = [150, 175]\n")
        p = protocol.load(f)
        d = p.as_dict()
        rows = list(p.flat())
        assert [k for k, _, _ in rows] == list(KEYS)
        for key, value, source in rows:
            section, name = key.split(".")
            assert value == d[section][name]
            assert source == p.sources[key]

    def test_sources_name_every_key(self, tmp_path):
        assert dict(protocol.load().sources) == dict.fromkeys(KEYS, "built-in")
        f = write(tmp_path, "[dose]\nmax_mg_per_kg = 0.8\n")
        sources = protocol.load(f).sources
        assert set(sources) == set(KEYS)
        assert {k for k, s in sources.items() if s != "built-in"} == {"dose.max_mg_per_kg"}
        assert sources["dose.max_mg_per_kg"] == str(f)

    @pytest.mark.parametrize(("section", "key", "toml", "value"), ONE_KEY_PER_SECTION)
    def test_override_one_key_of_each_section(self, tmp_path, section, key, toml, value):
        f = write(tmp_path, f"[{section}]\n{key} = {toml}\n")
        p = protocol.load(f)
        got = getattr(getattr(p, section), key)
        assert got == value
        assert repr(got) == repr(value)  # the same types too: (150.5, 95), not (150.5, 95.0)
        assert p.sources[f"{section}.{key}"] == str(f)
        expected = {s: dict(keys) for s, keys in CONTRACT_DEFAULTS.items()}
        expected[section][key] = list(value) if isinstance(value, tuple) else value
        assert p.as_dict() == expected  # every other key keeps its default
        assert sum(1 for s in p.sources.values() if s != "built-in") == 1

    def test_clinic_numbers_keep_their_type_in_as_dict(self, tmp_path):
        p = protocol.load(write(tmp_path, "[alerts]\nsbp = [150.5, 175]\n[dose]\nmax_mg_per_kg = 1\n"))
        assert json.dumps(p.as_dict()["alerts"]["sbp"]) == "[150.5, 175]"
        assert json.dumps(p.as_dict()["dose"]["max_mg_per_kg"]) == "1.0"


def refused(tmp_path, text: str) -> Invalid:
    with pytest.raises(Invalid) as exc:
        protocol.load(write(tmp_path, text))
    assert exc.value.exit_code == 2
    assert exc.value.code == "protocol_invalid"
    return exc.value


class TestValidation:
    def test_unknown_section(self, tmp_path):
        f = tmp_path / "clinic.toml"
        assert refused(tmp_path, "[alert]\nsbp = [1, 2]\n").message == \
            f"protocol: unknown section [alert] in {f}"

    def test_unknown_key(self, tmp_path):
        f = tmp_path / "clinic.toml"
        assert refused(tmp_path, "[alerts]\nsbp_high = [1, 2]\n").message == \
            f"protocol: unknown key alerts.sbp_high in {f}"
        assert refused(tmp_path, '[alerts]\n"sbp.x" = [1, 2]\n').message == \
            f"protocol: unknown key alerts.sbp.x in {f}"
        # a table where a pair belongs is a wrong type, not an unknown key
        assert refused(tmp_path, "[alerts.sbp]\nx = 1\n").message == \
            "protocol key alerts.sbp must be a list of two numbers"

    def test_not_a_table(self, tmp_path):
        assert refused(tmp_path, "alerts = 1\n").message == "protocol: [alerts] must be a table"

    @pytest.mark.parametrize(("text", "message"), [
        ("[schedule]\ninduction_sessions = 2.5\n",
         "protocol key schedule.induction_sessions must be a whole number >= 0"),
        ("[schedule]\ninduction_sessions = -1\n",
         "protocol key schedule.induction_sessions must be a whole number >= 0"),
        ("[dose]\ndefault_mg_per_kg = -0.5\n", "protocol key dose.default_mg_per_kg must be a number > 0"),
        ('[dose]\ndefault_mg_per_kg = "0.5"\n', "protocol key dose.default_mg_per_kg must be a number > 0"),
        ("[discharge]\nmax_bp = [160]\n", "protocol key discharge.max_bp must be a list of two numbers"),
        ("[alerts]\nhr_low = [50, false]\n", "protocol key alerts.hr_low must be a list of two numbers"),
        ("[screening]\nreview_conditions = [true]\n",
         "protocol key screening.review_conditions must be a list of strings"),
    ])
    def test_wrong_type(self, tmp_path, text, message):
        assert refused(tmp_path, text).message == message

    @pytest.mark.parametrize("key", [k.split(".")[1] for k in KEYS if k.startswith("alerts.")])
    def test_warning_beyond_critical(self, tmp_path, key):
        low = key.endswith("_low")
        pair = "[10, 20]" if low else "[20, 10]"
        if key == "moaas_low":  # within the MOAA/S scale (0-5)
            pair = "[2, 3]"
        word = "below" if low else "above"
        assert refused(tmp_path, f"[alerts]\n{key} = {pair}\n").message == (
            f"protocol key alerts.{key}: the warning level must not be {word} the critical one"
        )

    def test_warning_equal_to_critical_is_allowed(self, tmp_path):
        p = protocol.load(write(tmp_path, "[alerts]\nsbp = [170, 170]\nspo2_low = [90, 90]\n"))
        assert p.alerts.sbp == (170, 170) and p.alerts.spo2_low == (90, 90)

    def test_default_dose_above_max(self, tmp_path):
        assert refused(tmp_path, "[dose]\nmax_mg_per_kg = 0.4\n").message == \
            "protocol key dose.default_mg_per_kg is above dose.max_mg_per_kg"
        p = protocol.load(write(tmp_path, "[dose]\nmax_mg_per_kg = 0.5\n"))  # equal: allowed
        assert p.dose.max_mg_per_kg == p.dose.default_mg_per_kg == 0.5

    def test_hard_limit_below_the_soft_one(self, tmp_path):
        assert refused(tmp_path, "[dose]\nhard_max_mg_per_kg = 0.9\n").message == \
            "protocol key dose.max_mg_per_kg is above dose.hard_max_mg_per_kg"
        p = protocol.load(write(tmp_path, "[dose]\nhard_max_mg_per_kg = 1.0\n"))  # equal: allowed
        assert p.dose.hard_max_mg_per_kg == p.dose.max_mg_per_kg == 1.0

    def test_hold_hr_low_end_below_the_high(self, tmp_path):
        assert refused(tmp_path, "[infusion]\nhold_hr = [110, 50]\n").message == \
            "protocol key infusion.hold_hr: the low end must be below the high end"

    @pytest.mark.parametrize(("text", "message"), [
        ('[overrides]\ncosign = "yes"\n', "protocol key overrides.cosign must be true or false"),
        ("[overrides]\ncosign = 1\n", "protocol key overrides.cosign must be true or false"),
        ('[dose]\nweight_basis = "lean"\n',
         "protocol key dose.weight_basis must be one of actual, ideal, adjusted"),
        ("[dose]\nweight_basis = 1\n",
         "protocol key dose.weight_basis must be one of actual, ideal, adjusted"),
    ])
    def test_bool_and_choice_keys(self, tmp_path, text, message):
        assert refused(tmp_path, text).message == message

    def test_every_new_key_can_be_set(self, tmp_path):
        p = protocol.load(write(tmp_path, (
            "[dose]\nhard_max_mg_per_kg = 2\nhard_max_mg = 120\nweight_change_pct = 15\n"
            'weight_basis = "adjusted"\nbasis_bmi_threshold = 35\n'
            "[infusion]\nhold_sbp_low = 95\nhold_hr = [45, 120]\nhold_spo2 = 90\n"
            "[alerts]\nsbp_low = [95, 85]\nrr_high = [22, 28]\nsbp_rise = [30, 50]\n"
            "dbp_rise = [20, 30]\n[overrides]\ncosign = false\nmin_reason_chars = 20\n"
            "[discharge]\nmin_sbp = 95\nmin_spo2 = 92\n")))
        assert (p.dose.hard_max_mg, p.dose.weight_basis, p.infusion.hold_hr) == (120, "adjusted", (45, 120))
        assert (p.alerts.sbp_rise, p.overrides.cosign, p.discharge.min_spo2) == ((30, 50), False, 92)

    def test_file_errors(self, tmp_path):
        assert refused(tmp_path, "[dose\n").message.startswith(
            f"protocol file is not valid TOML: {tmp_path / 'clinic.toml'}: ")
        with pytest.raises(Invalid) as exc:
            protocol.load(tmp_path)
        assert exc.value.message == f"protocol file cannot be read: {tmp_path} (IsADirectoryError)"
        assert exc.value.exit_code == 2
        bad = tmp_path / "latin1.toml"
        bad.write_bytes(b"# caf\xe9\n")
        with pytest.raises(Invalid) as exc:
            protocol.load(bad)
        assert exc.value.message == f"protocol file cannot be read: {bad} (UnicodeDecodeError)"


@pytest.mark.parametrize("toml", ['cssrs_review = ["severe"]', 'cssrs_ineligible = ["High"]',
                                  'cssrs_ineligible = "high"'])
def test_cssrs_lists_hold_only_cssrs_risks(tmp_path, toml):
    from ketacli.errors import Invalid

    with pytest.raises(Invalid) as e:
        protocol.load(write(tmp_path, f"[screening]\n{toml}\n"))
    assert e.value.exit_code == 2 and "screening.cssrs_" in e.value.message


def test_cssrs_lists_may_be_set(tmp_path):
    p = protocol.load(write(tmp_path, '[screening]\ncssrs_ineligible = ["moderate", "high"]\n'
                                      'cssrs_review = ["low"]\n'))
    assert p.screening.cssrs_ineligible == ("moderate", "high")
    assert p.screening.cssrs_review == ("low",)
