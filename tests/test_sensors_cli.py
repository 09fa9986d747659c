"""``python main.py sensors``: the table, ``--json`` and settings errors."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from sensors import cli
from sensors.library import library


def parse(*argv: str, config: Path | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.config = str(config) if config else None
    return args


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./casino.toml or ./.env
    for name in [n for n in __import__("os").environ if n.startswith("CASINO_")]:
        monkeypatch.delenv(name)


def test_json_lists_every_sensor_with_its_declaration() -> None:
    out = io.StringIO()
    assert cli.run(parse("--json"), out) == 0
    rows = json.loads(out.getvalue())
    assert [row["id"] for row in rows] == [spec.id for spec in library()]
    for row in rows:
        assert set(row) >= {"id", "family", "timeframes", "lookback", "params", "description"}
    rsi = next(row for row in rows if row["id"] == "rsi")
    assert rsi["family"] == "momentum"
    assert rsi["params"]["period"] == 14


def test_table_shows_family_timeframes_and_params() -> None:
    out = io.StringIO()
    assert cli.run(parse("-v"), out) == 0
    text = out.getvalue()
    assert text.splitlines()[0].split() == ["FAMILY", "ID", "TIMEFRAMES", "LOOKBACK", "PARAMS"]
    rsi_line = next(line for line in text.splitlines() if " rsi " in line)
    assert rsi_line.split()[:4] == [
        "momentum",
        "rsi",
        "all",
        str(next(s.lookback for s in library() if s.id == "rsi")),
    ]
    assert "period=14" in rsi_line
    assert f"{len(library())} sensors in 7 families" in text
    assert "RSI below `oversold`" in text  # --verbose descriptions


def test_listing_follows_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "casino.toml"
    config.write_text(
        '[sensors]\nenabled = ["rsi", "zscore"]\n[sensors.params.rsi]\nperiod = 21\ntimeframes = "1h"\n'
    )
    out = io.StringIO()
    assert cli.run(parse("--json", config=config), out) == 0
    rows = json.loads(out.getvalue())
    assert [row["id"] for row in rows] == ["rsi", "zscore"]
    assert rows[0]["params"]["period"] == 21
    assert rows[0]["timeframes"] == ["1h"]
    out = io.StringIO()
    assert cli.run(parse("--json", "--library", config=config), out) == 0
    assert len(json.loads(out.getvalue())) == len(library())


def test_invalid_sensor_settings_exit_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "casino.toml"
    config.write_text("[sensors.params.rsi]\nperiodd = 21\n")
    assert cli.run(parse(config=config), io.StringIO()) == 2
    assert "'rsi' has no param 'periodd'" in capsys.readouterr().err
