"""The registry: size and shape of the library, and building the configured set from settings."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from core.config_engine import EngineSettings, SensorSettings
from sensors.base import FAMILIES, SensorSpec
from sensors.library import SENSOR_CLASSES, build_sensors, library, sensor_class


def test_library_has_at_least_fifty_sensors_in_the_seven_families() -> None:
    specs = library()
    assert len(specs) >= 50
    assert len({spec.id for spec in specs}) == len(specs)
    counts = Counter(spec.family for spec in specs)
    assert set(counts) == set(FAMILIES)
    assert min(counts.values()) >= 5


def test_every_default_lookback_fits_the_default_warm_up() -> None:
    # The engine warms up `warmup_bars` candles per timeframe: every sensor must be able to run on them.
    warmup = EngineSettings().warmup_bars
    for spec in library():
        assert 1 <= spec.lookback <= warmup, spec.id


def test_specs_declare_parameters_and_a_description() -> None:
    for spec in library():
        assert spec.description.strip(), spec.id
        assert all(isinstance(value, int | float | str | bool) for value in spec.params.values())
    assert sum(1 for spec in library() if spec.params) == len(library())


def test_specs_survive_msgspec_round_trip() -> None:
    specs = library()
    decoded = msgspec.json.decode(msgspec.json.encode(specs), type=list[SensorSpec])
    assert [spec.id for spec in decoded] == [spec.id for spec in specs]
    assert decoded[0].params == specs[0].params


def test_default_settings_build_the_whole_library() -> None:
    sensors = build_sensors(SensorSettings())
    assert [s.spec.id for s in sensors] == [cls.id for cls in SENSOR_CLASSES]


def test_enabled_disabled_and_params_are_applied() -> None:
    settings = SensorSettings(
        enabled=("rsi", "macd_cross", "cdl_engulfing"),
        disabled=("macd_cross",),
        params={"rsi": {"period": 7, "overbought": 80.0}, "zscore": {"threshold": 3.0}},
    )
    sensors = build_sensors(settings)
    assert [s.spec.id for s in sensors] == ["rsi", "cdl_engulfing"]
    assert sensors[0].spec.params["period"] == 7
    assert sensors[0].spec.params["overbought"] == 80.0


def test_settings_from_toml_shaped_data() -> None:
    raw = {
        "disabled": ["ht_trendline"],
        "params": {"donchian_breakout": {"period": 55, "timeframes": "1h,4h"}},
    }
    settings = msgspec.convert(raw, SensorSettings)
    by_id = {s.spec.id: s for s in build_sensors(settings)}
    assert "ht_trendline" not in by_id
    assert by_id["donchian_breakout"].spec.params["period"] == 55
    assert by_id["donchian_breakout"].spec.timeframes == ("1h", "4h")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (SensorSettings(enabled=("rsi", "nope")), "sensors.enabled: unknown sensor 'nope'"),
        (SensorSettings(disabled=("rsii",)), "sensors.disabled: unknown sensor 'rsii'"),
        (SensorSettings(params={"macdd": {"fast": 3}}), "sensors.params: unknown sensor 'macdd'"),
        (SensorSettings(params={"rsi": {"periods": 3}}), "'rsi' has no param 'periods'"),
        (SensorSettings(params={"rsi": {"period": 1}}), "'rsi' param 'period'"),
        # a disabled sensor's parameters are still checked: the typo is found at start
        (SensorSettings(disabled=("mfi",), params={"mfi": {"oversold": 90.0}}), "'mfi' param 'oversold'"),
    ],
)
def test_bad_settings_raise_value_error_naming_the_culprit(settings: SensorSettings, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        build_sensors(settings)


def test_sensor_class_names_an_unknown_id() -> None:
    assert sensor_class("rsi").id == "rsi"
    with pytest.raises(ValueError, match="unknown sensor 'xyz'"):
        sensor_class("xyz")
