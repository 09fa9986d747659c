"""The sensor registry: every sensor class of the library, and building the configured set from settings."""

from __future__ import annotations

from core.config_engine import SensorSettings
from sensors import mean_reversion, momentum, order_flow, patterns, trend, volatility, volume
from sensors.base import Sensor, SensorBase, SensorSpec

__all__ = ["SENSOR_CLASSES", "build_sensors", "library", "sensor_class"]

SENSOR_CLASSES: tuple[type[SensorBase], ...] = tuple(
    getattr(module, name)
    for module in (trend, momentum, mean_reversion, volatility, volume, patterns, order_flow)
    for name in module.__all__
)


def _by_id() -> dict[str, type[SensorBase]]:
    registry: dict[str, type[SensorBase]] = {}
    for cls in SENSOR_CLASSES:
        if cls.id in registry:
            raise RuntimeError(f"sensor id {cls.id!r} is declared by both {registry[cls.id]} and {cls}")
        registry[cls.id] = cls
    return registry


def sensor_class(sensor_id: str) -> type[SensorBase]:
    """The class implementing ``sensor_id``; ``ValueError`` naming it if the library has no such sensor."""
    registry = _by_id()
    if sensor_id not in registry:
        raise ValueError(f"unknown sensor {sensor_id!r} (see `python main.py sensors` for the list)")
    return registry[sensor_id]


def library() -> list[SensorSpec]:
    """Every sensor of the library with its default parameters, in family order."""
    return [cls().spec for cls in SENSOR_CLASSES]


def build_sensors(settings: SensorSettings) -> list[Sensor]:
    """The enabled sensors, parameterised from ``settings``.

    ``enabled`` empty means every sensor; ``disabled`` removes ids; ``params[id][name]`` overrides a
    default. Every id and parameter named in the settings is checked, even for a disabled sensor, so a typo
    fails at start: ``ValueError`` names the unknown sensor, parameter or invalid value.
    """
    registry = _by_id()
    for where, ids in (
        ("enabled", settings.enabled),
        ("disabled", settings.disabled),
        ("params", settings.params),
    ):
        for sensor_id in ids:
            if sensor_id not in registry:
                raise ValueError(f"sensors.{where}: unknown sensor {sensor_id!r}")
    configured = {sensor_id: registry[sensor_id](values) for sensor_id, values in settings.params.items()}
    chosen = set(settings.enabled or registry) - set(settings.disabled)
    return [
        configured[cls.id] if cls.id in configured else cls() for cls in SENSOR_CLASSES if cls.id in chosen
    ]
