"""``python main.py sensors``: list the sensors with family, timeframes, lookback and parameters.

By default it lists the sensors the settings enable, with their effective parameters (so a config file can
be checked before a session); ``--library`` lists the whole library with defaults. ``--json`` prints a JSON
list of objects ``{id, family, timeframes, lookback, params, description}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import msgspec

from sensors.base import SensorSpec

__all__ = ["add_arguments", "format_table", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the flags of the ``sensors`` command."""
    parser.add_argument("--json", action="store_true", help="print a JSON list of sensor objects")
    parser.add_argument(
        "--library", action="store_true", help="list every sensor of the library with default parameters"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="add each sensor's description")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Entry point of ``main.py sensors``; returns the exit code (2 on invalid settings)."""
    from core.config import ConfigError, load_settings
    from sensors.library import build_sensors, library

    out = out or sys.stdout
    try:
        if args.library:
            specs = library()
        else:
            config = getattr(args, "config", None)
            settings = load_settings(config_file=Path(config) if config else None)
            specs = [sensor.spec for sensor in build_sensors(settings.sensors)]
    except (ConfigError, ValueError) as exc:
        print(f"casino sensors: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out.write(msgspec.json.encode(specs).decode() + "\n")
    else:
        out.write(format_table(specs, verbose=args.verbose))
    return 0


def format_table(specs: list[SensorSpec], *, verbose: bool = False) -> str:
    """A plain-text table: one row per sensor (plus its description when ``verbose``) and a count."""
    rows = [
        (
            spec.family,
            spec.id,
            ",".join(spec.timeframes) or "all",
            str(spec.lookback),
            " ".join(f"{name}={value}" for name, value in spec.params.items()),
        )
        for spec in specs
    ]
    header = ("FAMILY", "ID", "TIMEFRAMES", "LOOKBACK", "PARAMS")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = []
    for row, spec in zip([header, *rows], [None, *specs], strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
        if verbose and spec is not None:
            lines.append(" " * (sum(widths) + 8) + spec.description)
    families = len({spec.family for spec in specs})
    lines.append(f"{len(specs)} sensors in {families} families")
    return "\n".join(lines) + "\n"
