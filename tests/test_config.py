"""core.config: layered, typed settings that fail at start naming the key and where it came from."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    ConfigError,
    LogSettings,
    SandboxSettings,
    Settings,
    env_name,
    load_settings,
    parse_dotenv,
    settings_help,
)
from core.secrets import Secret
from exchanges.sandbox.faults import FaultConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET = "zQ8vN3kP1xR7tY5wL2mB"


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """No casino.toml / .env of the developer's working directory leaks into a test."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and precedence -----------------------------------------------------------------------


def test_defaults():
    s = load_settings(env={})
    assert s.venue == "sandbox"
    assert s.url is None and s.api_key is None and s.api_secret is None
    assert s.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.data_dir == "data"
    assert (s.log.level, s.log.dir, s.log.json) == ("INFO", "logs", True)
    sb = s.sandbox
    assert (sb.host, sb.port, sb.speed, sb.seed, sb.faults, sb.accounts, sb.data) == (
        "127.0.0.1",
        8700,
        1.0,
        0,
        "",
        (),
        (),
    )
    assert (sb.demo_api_key, sb.demo_api_secret, sb.demo_balance) == (
        DEMO_API_KEY,
        DEMO_API_SECRET,
        Decimal(10000),
    )
    assert len(DEMO_API_KEY) == 64 and len(DEMO_API_SECRET) == 64
    assert (sb.max_connection_hours, sb.ws_ping_interval, sb.ws_pong_timeout, sb.history_days) == (
        24,
        180,
        600,
        7,
    )
    assert (sb.rate_limit_weight_1m, sb.rate_limit_orders_10s, sb.rate_limit_orders_1m) == (2400, 300, 1200)
    assert s == Settings()


def test_precedence_defaults_toml_dotenv_env_flags(tmp_path):
    toml = write(
        tmp_path / "c.toml", "[sandbox]\nport = 1001\nseed = 1\nspeed = 2.0\n[log]\nlevel = 'DEBUG'\n"
    )
    dotenv = write(tmp_path / "x.env", "CASINO_SANDBOX__PORT=1002\nCASINO_SANDBOX__SEED=2\n")
    env = {"CASINO_SANDBOX__PORT": "1003"}
    layers: dict[str, Any] = {
        "config_file": toml,
        "dotenv": dotenv,
        "env": env,
        "overrides": {"sandbox.port": 1004},
    }
    s = load_settings(**layers)
    assert s.sandbox.port == 1004  # flag wins
    assert s.sandbox.seed == 2  # .env over TOML
    assert s.sandbox.speed == 2.0  # TOML over defaults
    assert s.log.level == "DEBUG"
    assert s.sandbox.host == "127.0.0.1"  # default
    del layers["overrides"]
    assert load_settings(**layers).sandbox.port == 1003  # real environment over .env
    layers["env"] = {}
    assert load_settings(**layers).sandbox.port == 1002
    del layers["dotenv"]
    assert load_settings(**layers).sandbox.port == 1001


def test_files_in_the_working_directory_are_found(tmp_path):
    write(tmp_path / "casino.toml", "symbols = ['SOLUSDT']\n")
    write(tmp_path / ".env", "CASINO_DATA_DIR=/srv/data\n")
    s = load_settings(env={})
    assert s.symbols == ("SOLUSDT",)
    assert s.data_dir == "/srv/data"


def test_string_conversion_of_env_and_flags():
    env = {
        "CASINO_SYMBOLS": " BTCUSDT, ETHUSDT ,SOLUSDT,",
        "CASINO_VENUE": "SANDBOX",
        "CASINO_LOG__LEVEL": "debug",
        "CASINO_LOG__JSON": "Off",
        "CASINO_URL": "",
        "CASINO_SANDBOX__DEMO_BALANCE": "2500.50",
        "CASINO_SANDBOX__SPEED": "10",
        "CASINO_SANDBOX__DATA": "a.csv,b/",
    }
    s = load_settings(env=env, overrides={"sandbox.symbols": "BTCUSDT", "sandbox.seed": "42", "url": None})
    assert s.symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    assert s.venue == "sandbox" and s.log.level == "DEBUG" and s.log.json is False
    assert s.url is None
    assert s.sandbox.demo_balance == Decimal("2500.50")
    assert s.sandbox.speed == 10.0
    assert s.sandbox.data == ("a.csv", "b/")
    assert s.sandbox.symbols == ("BTCUSDT",)
    assert s.sandbox.seed == 42


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("1", True), ("yes", True), ("FALSE", False), ("0", False), ("no", False)],
)
def test_boolean_words(text, value):
    assert load_settings(env={"CASINO_LOG__JSON": text}).log.json is value


def test_non_finite_numbers_are_rejected():
    for name in ("CASINO_SANDBOX__SPEED", "CASINO_SANDBOX__HISTORY_DAYS", "CASINO_SANDBOX__DEMO_BALANCE"):
        for text in ("nan", "inf"):
            assert _error(env={name: text}).source == f"environment variable {name}"


def test_non_string_flags_and_lists():
    s = load_settings(
        env={}, overrides={"sandbox.data": ["x.csv.gz"], "sandbox.speed": 5, "symbols": ["ETHUSDT"]}
    )
    assert s.sandbox.data == ("x.csv.gz",)
    assert s.sandbox.speed == 5.0
    assert s.symbols == ("ETHUSDT",)


def test_not_settings_variables_and_other_prefixes_are_ignored():
    s = load_settings(env={"CASINO_SHARED_DATA": "/x", "HOME": "/root", "BINANCE_KEY": "k"})
    assert s == Settings()


# --- unknown keys, in each layer ------------------------------------------------------------------


def _error(**kwargs) -> ConfigError:
    kwargs.setdefault("env", {})
    with pytest.raises(ConfigError) as err:
        load_settings(**kwargs)
    return err.value


def test_unknown_key_in_toml(tmp_path):
    toml = write(tmp_path / "c.toml", "[sandbox]\nprot = 8701\n")
    err = _error(config_file=toml)
    assert err.key == "sandbox.prot"
    assert str(toml) in err.source
    assert "sandbox.port" in str(err)  # the suggestion
    toml = write(tmp_path / "d.toml", "colour = 'red'\n")
    assert _error(config_file=toml).key == "colour"
    toml = write(tmp_path / "e.toml", "sandbox = 5\n")
    err = _error(config_file=toml)
    assert err.key == "sandbox" and "section" in err.problem


def test_unknown_variable_in_env_and_dotenv(tmp_path):
    err = _error(env={"CASINO_SANDBOX_PORT": "8701"})
    assert err.key == "CASINO_SANDBOX_PORT"
    assert "environment variable CASINO_SANDBOX_PORT" in err.source
    assert "CASINO_SANDBOX__PORT" in str(err)
    dotenv = write(tmp_path / "x.env", "# comment\nCASINO_NOPE=1\n")
    err = _error(dotenv=dotenv)
    assert err.key == "CASINO_NOPE" and str(dotenv) in err.source
    assert _error(env={"CASINO_SANDBOX": "1"}).key == "CASINO_SANDBOX"
    assert _error(env={"CASINO_sandbox__port": "1"}).key == "CASINO_sandbox__port"  # names are upper-case


def test_unknown_flag():
    err = _error(overrides={"sandbox.portt": 1})
    assert err.key == "sandbox.portt" and "command line" in err.source


# --- invalid values, in each layer ----------------------------------------------------------------


def test_invalid_value_in_toml(tmp_path):
    for text, key in [
        ("[sandbox]\nport = 'x'\n", "sandbox.port"),
        ("[sandbox]\nport = 70000\n", "sandbox.port"),
        ("[sandbox]\nspeed = 0\n", "sandbox.speed"),
        ("venue = 'paper'\n", "venue"),
        ("symbols = ['btcusdt']\n", "symbols"),
        ("[log]\njson = 'yes'\n", "log.json"),
        ("url = 'ftp://x'\n", "url"),
    ]:
        toml = write(tmp_path / "c.toml", text)
        err = _error(config_file=toml)
        assert err.key == key, text
        assert str(toml) in err.source


def test_invalid_value_in_env_and_dotenv(tmp_path):
    err = _error(env={"CASINO_SANDBOX__SPEED": "fast"})
    assert err.key == "sandbox.speed" and err.source == "environment variable CASINO_SANDBOX__SPEED"
    err = _error(env={"CASINO_SANDBOX__RATE_LIMIT_WEIGHT_1M": "0"})
    assert err.key == "sandbox.rate_limit_weight_1m"
    dotenv = write(tmp_path / "x.env", "CASINO_LOG__LEVEL=verbose\n")
    err = _error(dotenv=dotenv)
    assert err.key == "log.level" and "CASINO_LOG__LEVEL" in err.source and str(dotenv) in err.source


def test_invalid_flag():
    err = _error(overrides={"sandbox.port": "abc"})
    assert err.key == "sandbox.port" and "command line" in err.source
    assert _error(overrides={"sandbox.seed": -1}).key == "sandbox.seed"


def test_cross_field_checks_name_the_key_and_source(tmp_path):
    err = _error(env={"CASINO_SANDBOX__FAULTS": "http_5xx=2"})
    assert err.key == "sandbox.faults" and "CASINO_SANDBOX__FAULTS" in err.source
    err = _error(env={"CASINO_SANDBOX__FAULTS": "nosuchfault=1"})
    assert err.key == "sandbox.faults"
    err = _error(env={"CASINO_SANDBOX__DEMO_BALANCE": "-5"})
    assert err.key == "sandbox.demo_balance"
    toml = write(tmp_path / "c.toml", "symbols = ['BTCUSDT', 'BTCUSDT']\n")
    assert _error(config_file=toml).key == "symbols"
    err = _error(env={"CASINO_VENUE": "live", "CASINO_API_KEY": SECRET})
    assert err.key == "api_key" and "api_secret" in err.problem


def test_invalid_accounts_do_not_echo_secrets():
    for spec in [
        f"key:{SECRET}",
        f"key:{SECRET}:lots",
        f"key:{SECRET}:-1",
        f":{SECRET}:5",
        f"a:{SECRET}:1,a:x{SECRET}:2",
    ]:
        err = _error(overrides={"sandbox.accounts": spec})
        assert err.key == "sandbox.accounts", spec
        assert SECRET not in str(err)


def test_missing_or_malformed_files(tmp_path):
    err = _error(config_file=tmp_path / "absent.toml")
    assert "absent.toml" in err.source
    err = _error(config_file=write(tmp_path / "bad.toml", "[sandbox\nport=1"))
    assert "invalid TOML" in err.problem
    err = _error(dotenv=tmp_path / "absent.env")
    assert "absent.env" in err.source


# --- secrets ------------------------------------------------------------------------------------------


def test_secrets_are_typed_and_never_shown():
    env = {"CASINO_VENUE": "demo", "CASINO_API_KEY": SECRET + "key", "CASINO_API_SECRET": SECRET}
    s = load_settings(env=env, overrides={"sandbox.accounts": f"alice:{SECRET}x:100"})
    assert isinstance(s.api_key, Secret) and s.api_key.reveal() == SECRET + "key"
    assert isinstance(s.api_secret, Secret) and s.api_secret.reveal() == SECRET
    for text in (repr(s), str(s), repr(s.sandbox), str(s.redacted())):
        assert SECRET not in text
        assert DEMO_API_SECRET not in text
    assert set(s.secret_values()) == {SECRET + "key", SECRET, SECRET + "x"}


def test_secret_from_toml_must_be_a_string(tmp_path):
    err = _error(config_file=write(tmp_path / "c.toml", "api_key = 123456789\n"))
    assert err.key == "api_key" and "123456789" not in str(err)


def test_invalid_secret_neighbour_does_not_leak_it():
    err = _error(env={"CASINO_API_SECRET": SECRET, "CASINO_SANDBOX__PORT": "x"})
    assert SECRET not in str(err)


# --- sandbox helpers -------------------------------------------------------------------------------------


def test_account_specs_default_to_the_demo_account():
    (demo,) = SandboxSettings().account_specs()
    assert demo.api_key == DEMO_API_KEY and demo.api_secret.reveal() == DEMO_API_SECRET
    assert demo.balance == Decimal(10000)


def test_account_specs_parse_entries():
    s = load_settings(env={"CASINO_SANDBOX__ACCOUNTS": "k1:s1:100.5,k2:s:with:colons:0"})
    specs = s.sandbox.account_specs()
    assert [(a.api_key, a.api_secret.reveal(), a.balance) for a in specs] == [
        ("k1", "s1", Decimal("100.5")),
        ("k2", "s:with:colons", Decimal(0)),
    ]


def test_fault_config_is_parsed():
    s = load_settings(env={}, overrides={"sandbox.faults": "http_5xx=0.1,ws_drop_every=7s"})
    cfg = s.sandbox.fault_config()
    assert isinstance(cfg, FaultConfig)
    assert cfg.http_5xx == 0.1 and cfg.ws_drop_every == 7.0


def test_sandbox_settings_constructed_directly_are_validated():
    assert SandboxSettings(port=0).port == 0
    with pytest.raises(ValueError):
        SandboxSettings(faults="bogus=1")


# --- .env parsing ----------------------------------------------------------------------------------------


def test_parse_dotenv_syntax():
    text = "\n".join(
        [
            "# a comment",
            "",
            "PLAIN=value",
            "export EXPORTED=yes",
            "  SPACED = padded  ",
            "INLINE=abc # trailing comment",
            "HASH=abc#not-a-comment",
            'DQ="two words # kept"  # comment',
            'ESC="line\\nnext \\"q\\" back\\\\slash"',
            "SQ='literal \\n $x'",
            "EMPTY=",
            'EMPTYQ=""',
        ]
    )
    assert parse_dotenv(text) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded",
        "INLINE": "abc",
        "HASH": "abc#not-a-comment",
        "DQ": "two words # kept",
        "ESC": 'line\nnext "q" back\\slash',
        "SQ": "literal \\n $x",
        "EMPTY": "",
        "EMPTYQ": "",
    }


@pytest.mark.parametrize(
    "line", [f"NOEQUALS {SECRET}", f'K="{SECRET}', f"1BAD={SECRET}", f"K='{SECRET}' tail"]
)
def test_parse_dotenv_errors_name_the_line_not_its_content(line):
    with pytest.raises(ConfigError) as err:
        parse_dotenv(f"OK=1\n{line}\n", origin="test.env")
    assert "line 2" in str(err.value)
    assert SECRET not in str(err.value)


_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines() splits on each of these


@given(value=st.text(alphabet=st.characters(codec="utf-8", exclude_characters=_LINE_BREAKS)))
def test_parse_dotenv_double_quotes_round_trip(value):
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    assert parse_dotenv(f'KEY="{quoted}"') == {"KEY": value}


# --- documentation ------------------------------------------------------------------------------------


def test_settings_help_lists_every_key():
    info = {i.key: i for i in settings_help()}
    assert info["sandbox.port"].env == "CASINO_SANDBOX__PORT" == env_name("sandbox.port")
    assert info["sandbox.port"].default == "8700" and info["sandbox.port"].type == "int"
    assert info["symbols"].env == "CASINO_SYMBOLS" and info["symbols"].default == "BTCUSDT,ETHUSDT"
    assert info["api_key"].default == ""
    assert all(i.description for i in info.values())
    defaults = Settings()
    sections = {f: type(getattr(defaults, f)) for f in Settings.__struct_fields__}
    sections = {f: t for f, t in sections.items() if issubclass(t, msgspec.Struct)}
    assert {"log": LogSettings, "sandbox": SandboxSettings}.items() <= sections.items()
    expected = {f for f in Settings.__struct_fields__ if f not in sections}
    for name, section in sections.items():
        expected |= {f"{name}.{f}" for f in section.__struct_fields__}
    assert set(info) == expected


def test_env_example_documents_every_variable():
    path = REPO_ROOT / ".env.example"
    text = path.read_text(encoding="utf-8")
    for item in settings_help():
        assert f"{item.env}=" in text, item.env
    assert DEMO_API_KEY in text and DEMO_API_SECRET in text
    # Uncommented, it is a valid .env file.
    uncommented = "\n".join(
        line.removeprefix("# ") for line in text.splitlines() if line.startswith("# CASINO_")
    )
    env_file = write(Path("uncommented.env"), uncommented)
    assert load_settings(env={}, dotenv=env_file) == Settings()
