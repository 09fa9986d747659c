"""Request encoding and signing: Binance's documented HMAC example, exact decimals, Ed25519, no leaks."""

from __future__ import annotations

import base64
import sys
from decimal import Decimal
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.secrets import Secret
from core.types import OrderType, Side
from exchanges.binance.signing import (
    Ed25519Signer,
    HmacSigner,
    ParamValue,
    encode_params,
    encode_value,
    signed_query,
    signer_for,
)
from exchanges.errors import FatalError
from exchanges.sandbox.server.auth import sign as sandbox_sign
from exchanges.sandbox.server.auth import signed_payload

# The SIGNED endpoint example of Binance's USDⓈ-M "General Info" page (a documented test vector).
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
DOC_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_hmac_matches_binance_documented_example() -> None:
    params: dict[str, ParamValue] = {
        "symbol": "BTCUSDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "quantity": Decimal(1),
        "price": Decimal(9000),
        "timeInForce": "GTC",
    }
    query = encode_params(params)
    assert query == DOC_QUERY
    signed = signed_query(query, HmacSigner(Secret(DOC_SECRET)), timestamp=1591702613943, recv_window=5000)
    assert signed == f"{DOC_QUERY}&recvWindow=5000&timestamp=1591702613943&signature={DOC_SIGNATURE}"


def test_signature_is_what_the_sandbox_verifies() -> None:
    secret = "sandboxSecret123"
    params = {"symbol": "ETHUSDT", "batchOrders": [{"price": Decimal("0.10"), "reduceOnly": True}]}
    signed = signed_query(encode_params(params), signer_for(Secret(secret)), timestamp=1, recv_window=60000)
    payload, signature = signed_payload(signed, "")
    assert signature == sandbox_sign(secret, payload)
    assert payload + f"&signature={signature}" == signed


def test_values_go_on_the_wire_exactly() -> None:
    assert encode_value(Decimal("1E+2")) == "100"
    assert encode_value(Decimal("0.00000001")) == "0.00000001"
    assert encode_value(Decimal("-0.0")) == "0"
    assert encode_value(Decimal("2.50")) == "2.5"
    assert encode_value(True) == "true" and encode_value(False) == "false"
    assert encode_value(7) == "7"
    assert encode_value(Side.SELL) == "SELL"
    items = [{"symbol": "BTCUSDT", "quantity": Decimal("1E-3"), "reduceOnly": True, "skip": None}]
    assert encode_value(items) == '[{"symbol":"BTCUSDT","quantity":"0.001","reduceOnly":true}]'
    with pytest.raises(TypeError):
        encode_value(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_value([{"price": 0.1}])


def test_params_are_percent_encoded_and_none_is_left_out() -> None:
    query = encode_params({"a": "x y/z", "b": None, "c": '[{"k":"v"}]'})
    assert query == "a=x%20y%2Fz&c=%5B%7B%22k%22%3A%22v%22%7D%5D"
    assert unquote(query.split("&")[1].split("=")[1]) == '[{"k":"v"}]'


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12"))
)
def test_any_decimal_round_trips_without_exponent(value: Decimal) -> None:
    text = encode_value(value)
    assert "E" not in text.upper()
    assert Decimal(text) == value


def test_ed25519_signature_verifies_with_the_public_key() -> None:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signer = signer_for(Secret(pem))
    assert isinstance(signer, Ed25519Signer)
    payload = "symbol=BTCUSDT&recvWindow=5000&timestamp=1"
    signature = signer.sign(payload)
    assert "+" not in signature and "/" not in signature and "=" not in signature  # percent-encoded
    key.public_key().verify(base64.b64decode(unquote(signature)), payload.encode())  # raises if invalid
    assert pem not in repr(signer) and "PRIVATE" not in repr(signer)


def test_ed25519_refuses_a_non_ed25519_or_broken_key() -> None:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(FatalError, match="not an Ed25519 key"):
        signer_for(Secret(ec_pem))
    broken = "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n"
    with pytest.raises(FatalError) as info:
        signer_for(Secret(broken))
    assert "TOPSECRETMATERIAL" not in str(info.value) and "TOPSECRETMATERIAL" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_ed25519_without_cryptography_names_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.ed25519", None)
    with pytest.raises(FatalError, match="cryptography"):
        signer_for(Secret("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"))


def test_hmac_secret_never_shows() -> None:
    secret = "hmacSecretValue42"
    signer = signer_for(Secret(secret))
    assert isinstance(signer, HmacSigner)
    assert secret not in repr(signer) and secret not in str(signer)
    with pytest.raises(FatalError) as info:
        HmacSigner(Secret(""))
    assert "secret" in str(info.value)
