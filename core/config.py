"""The one typed settings object, loaded from defaults < TOML file < environment (and ``.env``) < CLI flags.

Every key has a dotted name (``sandbox.port``) that is the same in every layer:

- TOML: ``casino.toml`` in the working directory, or the file given with ``--config``; sections are tables
  (``[sandbox]`` / ``port = 8701``).
- Environment: ``CASINO_<KEY>`` for top-level keys (``CASINO_API_KEY``, ``CASINO_SYMBOLS``) and
  ``CASINO_<SECTION>__<KEY>`` inside a section (``CASINO_SANDBOX__PORT``). A ``.env`` file (in the working
  directory, or the given path) is read as if its variables were set, but the real environment wins.
- CLI flags: dotted keys handed to :func:`load_settings` as ``overrides``.

String values (environment, ``.env``, string flags) are converted to the key's type: lists are
comma-separated, enumerations are case-insensitive, an empty string means "unset" for optional keys.
Unknown keys and invalid values raise :class:`ConfigError` naming the key and the layer it came from;
values are never echoed, so a secret cannot end up in the message.

The schema lives in the Structs below (with ``msgspec.Meta`` constraints and descriptions); adding a
section is adding a Struct and a field of :class:`Settings`: the environment names, TOML tables,
validation and :func:`settings_help` follow from it.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from core.config_croupier import CroupierSettings
from core.config_engine import EngineSettings, SensorSettings
from core.config_session import MetricsSettings, SessionSettings
from core.config_sources import (
    ConfigError,
    Layers,
    Schema,
    default_text,
    description,
    field_error,
    parse_dotenv,
    read_toml,
    type_name,
)
from core.config_state import StateSettings
from core.config_trading import PlayerSettings, RiskSettings
from core.secrets import MASK, Secret, enc_hook
from exchanges.sandbox.faults import FaultConfig, FaultSpecError, parse_fault_spec

__all__ = [
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "AccountSpec",
    "ConfigError",
    "LogSettings",
    "SandboxSettings",
    "SettingInfo",
    "Settings",
    "env_name",
    "load_settings",
    "parse_dotenv",
    "settings_help",
]

# The sandbox's built-in demo account. Public on purpose (printed at start, in .env.example): it only
# opens the loopback sandbox, never a real venue.
DEMO_API_KEY = "casinoSandboxDemoApiKey" + "0" * 41
DEMO_API_SECRET = "casinoSandboxDemoApiSecret" + "0" * 38


Symbol = Annotated[str, Meta(pattern=r"^[A-Z0-9]{2,30}$", description="an upper-case USDⓈ-M symbol")]
Positive = Annotated[float, Meta(gt=0, le=10**7)]
Limit = Annotated[int, Meta(gt=0, le=10**7)]
_CREDENTIAL = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces (a header value)


def _masked_repr(obj: msgspec.Struct, hide: dict[str, Any]) -> str:
    parts = []
    for name in obj.__struct_fields__:
        value = hide[name] if name in hide else getattr(obj, name)
        parts.append(f"{name}={value!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


class LogSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and how much the session logs."""

    level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"], Meta(description="console and file log level")
    ] = "INFO"
    dir: Annotated[str, Meta(min_length=1, description="folder of the per-session JSON-lines log files")] = (
        "logs"
    )
    json: Annotated[bool, Meta(description="write <dir>/<session id>.jsonl")] = True


class AccountSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One sandbox account parsed from ``KEY:SECRET:USDT_BALANCE``."""

    api_key: str
    api_secret: Secret
    balance: Decimal


def _parse_account(index: int, text: str) -> AccountSpec:
    head, sep, balance_text = text.rpartition(":")
    key, sep2, secret = head.partition(":")
    if not (sep and sep2):
        raise field_error("accounts", f"entry {index} is not KEY:SECRET:USDT_BALANCE")
    if not (_CREDENTIAL.match(key) and _CREDENTIAL.match(secret)):
        raise field_error("accounts", f"entry {index}: key and secret must be non-empty and without spaces")
    try:
        balance = Decimal(balance_text)
    except ArithmeticError:
        balance = Decimal("NaN")
    if not balance.is_finite() or balance < 0:
        raise field_error("accounts", f"entry {index}: balance must be a non-negative decimal number")
    return AccountSpec(api_key=key, api_secret=Secret(secret), balance=balance)


class SandboxSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The embedded Binance-compatible exchange (``main.py sandbox`` and paper sessions)."""

    host: Annotated[str, Meta(min_length=1, description="interface to bind (loopback unless told)")] = (
        "127.0.0.1"
    )
    port: Annotated[int, Meta(ge=0, le=65535, description="TCP port; 0 picks a free one")] = 8700
    symbols: Annotated[tuple[Symbol, ...], Meta(description="symbols the sandbox lists and replays")] = (
        "BTCUSDT",
        "ETHUSDT",
    )
    data: Annotated[tuple[str, ...], Meta(description="kline/tick files or folders to replay")] = ()
    speed: Annotated[float, Meta(gt=0, le=10**6, description="sandbox clock rate (× real time)")] = 1.0
    seed: Annotated[int, Meta(ge=0, description="seed of synthetic market, fills and faults")] = 0
    faults: Annotated[str, Meta(description="fault spec name=value,... (see --faults)")] = ""
    accounts: Annotated[
        tuple[str, ...], Meta(description="accounts KEY:SECRET:USDT_BALANCE; empty = the demo account")
    ] = ()
    demo_api_key: Annotated[str, Meta(pattern=_CREDENTIAL.pattern, description="demo account API key")] = (
        DEMO_API_KEY
    )
    demo_api_secret: Annotated[
        str, Meta(pattern=_CREDENTIAL.pattern, description="demo account API secret")
    ] = DEMO_API_SECRET
    demo_balance: Annotated[Decimal, Meta(description="demo account USDT wallet balance")] = Decimal(10000)
    max_connection_hours: Annotated[Positive, Meta(description="WebSocket connection lifetime, hours")] = 24.0
    ws_ping_interval: Annotated[Positive, Meta(description="seconds between server pings")] = 180.0
    ws_pong_timeout: Annotated[Positive, Meta(description="seconds without a pong before disconnect")] = 600.0
    history_days: Annotated[
        float,
        Meta(
            ge=0,
            le=3650,
            description="days of replayed history before 'now' (warm-up); kline replay gives up to "
            "one day more to keep the data's time of day",
        ),
    ] = 7.0
    rate_limit_weight_1m: Annotated[Limit, Meta(description="REQUEST_WEIGHT per minute")] = 2400
    rate_limit_orders_10s: Annotated[Limit, Meta(description="ORDERS per 10 seconds")] = 300
    rate_limit_orders_1m: Annotated[Limit, Meta(description="ORDERS per minute")] = 1200

    def __post_init__(self) -> None:
        if len(set(self.symbols)) != len(self.symbols):
            raise field_error("symbols", "lists a symbol twice")
        if not self.demo_balance.is_finite() or self.demo_balance <= 0:
            raise field_error("demo_balance", "must be a positive number")
        try:
            parse_fault_spec(self.faults)
        except FaultSpecError as exc:
            raise field_error("faults", str(exc)) from None
        keys = [spec.api_key for spec in self.account_specs()]
        if len(set(keys)) != len(keys):
            raise field_error("accounts", "an API key is defined twice")

    def account_specs(self) -> tuple[AccountSpec, ...]:
        """The accounts to create: ``accounts`` parsed, or the demo account when there are none."""
        if not self.accounts:
            return (
                AccountSpec(
                    api_key=self.demo_api_key,
                    api_secret=Secret(self.demo_api_secret),
                    balance=self.demo_balance,
                ),
            )
        return tuple(_parse_account(i, text) for i, text in enumerate(self.accounts))

    def fault_config(self) -> FaultConfig:
        """``faults`` parsed (validated at load, so this does not fail)."""
        return parse_fault_spec(self.faults)

    def secret_values(self) -> tuple[str, ...]:
        """Account secrets, for log redaction (the demo secret is public but still kept out of logs)."""
        return tuple(spec.api_secret.reveal() for spec in self.account_specs())

    def __repr__(self) -> str:
        return _masked_repr(
            self,
            {
                "demo_api_secret": Secret(self.demo_api_secret),
                "accounts": tuple(f"{text.partition(':')[0]}:{MASK}" for text in self.accounts),
            },
        )


Venue = Literal["sandbox", "demo", "testnet", "live"]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """All of Casino's settings. Built by :func:`load_settings`."""

    venue: Annotated[Venue, Meta(description="exchange: embedded sandbox, Binance demo, testnet or live")] = (
        "sandbox"
    )
    url: Annotated[
        Annotated[str, Meta(pattern=r"^https?://\S+$")] | None,
        Meta(description="REST base URL of an external sandbox (empty = embedded)"),
    ] = None
    api_key: Annotated[Secret | None, Meta(description="Binance API key (demo/testnet/live)")] = None
    api_secret: Annotated[Secret | None, Meta(description="Binance API secret (demo/testnet/live)")] = None
    symbols: Annotated[tuple[Symbol, ...], Meta(description="symbols the session trades")] = (
        "BTCUSDT",
        "ETHUSDT",
    )
    data_dir: Annotated[str, Meta(min_length=1, description="market data folder (klines, ticks)")] = "data"
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    sandbox: SandboxSettings = msgspec.field(default_factory=SandboxSettings)
    engine: EngineSettings = msgspec.field(default_factory=EngineSettings)
    sensors: SensorSettings = msgspec.field(default_factory=SensorSettings)
    state: StateSettings = msgspec.field(default_factory=StateSettings)
    player: PlayerSettings = msgspec.field(default_factory=PlayerSettings)
    risk: RiskSettings = msgspec.field(default_factory=RiskSettings)
    croupier: CroupierSettings = msgspec.field(default_factory=CroupierSettings)
    session: SessionSettings = msgspec.field(default_factory=SessionSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)

    def __post_init__(self) -> None:
        if len(set(self.symbols)) != len(self.symbols):
            raise field_error("symbols", "lists a symbol twice")
        if self.venue != "sandbox" and not (self.api_key and self.api_secret):
            raise field_error("api_key", f"venue '{self.venue}' needs both api_key and api_secret")

    def secret_values(self) -> tuple[str, ...]:
        """Every secret string these settings hold: register them with :func:`core.logs.register_secret`."""
        own = tuple(s.reveal() for s in (self.api_key, self.api_secret) if s)
        return own + self.sandbox.secret_values()

    def redacted(self) -> dict[str, Any]:
        """Plain builtins for reports and logs, with every secret replaced by ``***``."""
        out: dict[str, Any] = msgspec.to_builtins(self, enc_hook=enc_hook)
        sandbox = out["sandbox"]
        sandbox["demo_api_secret"] = MASK
        sandbox["accounts"] = [f"{text.partition(':')[0]}:{MASK}" for text in self.sandbox.accounts]
        return out


# --- loading ------------------------------------------------------------------------------------------------

ENV_PREFIX = "CASINO_"
# CASINO_* variables that are not settings (read by the test helpers), so they are not "unknown".
NOT_SETTINGS = frozenset({"CASINO_SHARED_DATA"})
SCHEMA = Schema(Settings, ENV_PREFIX)


def env_name(key: str) -> str:
    """The environment variable of a dotted key: ``sandbox.port`` → ``CASINO_SANDBOX__PORT``."""
    return SCHEMA.env_name(key)


def _read_env(variables: Mapping[str, str], source_of: Mapping[str, str], layers: Layers) -> None:
    for name in sorted(variables):
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        key = SCHEMA.env_key(name)
        if key not in SCHEMA.leaves or SCHEMA.env_name(key) != name:
            known = [SCHEMA.env_name(k) for k in SCHEMA.leaves]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(name, f"unknown variable{hint}", source_of[name])
        layers.set(key, variables[name], source_of[name], from_string=True)


def _read_dotenv(path: Path, variables: dict[str, str], source_of: dict[str, str]) -> None:
    origin = f"env file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read the file ({exc.strerror})", origin) from None
    for name, value in parse_dotenv(text, origin=origin).items():
        variables[name], source_of[name] = value, f"{origin} ({name})"


def load_settings(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    dotenv: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Load the settings: defaults < TOML < environment and ``.env`` < ``overrides``.

    - ``config_file``: TOML file (must exist); default ``./casino.toml`` when present.
    - ``env``: the environment (default ``os.environ``); it wins over ``dotenv``.
    - ``dotenv``: a ``.env`` file (must exist); default ``./.env`` when present.
    - ``overrides``: dotted keys from CLI flags; ``None`` values mean "flag not given".

    Raises :class:`ConfigError` naming the key and its source for any unknown key or invalid value.
    """
    layers = Layers(SCHEMA)
    toml_path = config_file if config_file is not None else Path("casino.toml")
    if config_file is not None or toml_path.is_file():
        for key, value in read_toml(toml_path, SCHEMA):
            layers.set(key, value, f"config file {toml_path}", from_string=False)
    variables: dict[str, str] = {}
    source_of: dict[str, str] = {}
    dotenv_path = dotenv if dotenv is not None else Path(".env")
    if dotenv is not None or dotenv_path.is_file():
        _read_dotenv(dotenv_path, variables, source_of)
    for name, value in (os.environ if env is None else env).items():
        variables[name], source_of[name] = value, f"environment variable {name}"
    _read_env(variables, source_of, layers)
    for key, value in (overrides or {}).items():
        if value is not None:
            layers.set(key, value, f"command line ({key})", from_string=True)
    settings: Settings = layers.build()
    return settings


class SettingInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One settings key, for ``--help`` texts and docs."""

    key: str
    env: str
    type: str
    default: str
    description: str


def settings_help() -> list[SettingInfo]:
    """Every settings key with its environment variable, type, default and description."""
    return [
        SettingInfo(
            key=key,
            env=SCHEMA.env_name(key),
            type=type_name(info.type),
            default=default_text(info),
            description=description(info.type),
        )
        for key, info in SCHEMA.leaves.items()
    ]
