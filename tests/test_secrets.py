"""core.secrets: a Secret never shows its value, except through reveal()."""

from __future__ import annotations

import pickle

import msgspec
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.secrets import MASK, Secret, dec_hook, enc_hook

VALUE = "kT9x2QvLr8WmZ4bN"


class Creds(msgspec.Struct, frozen=True, kw_only=True):
    api_key: Secret
    api_secret: Secret | None = None


def test_reveal_returns_the_value():
    assert Secret(VALUE).reveal() == VALUE


def test_every_rendering_is_masked():
    s = Secret(VALUE)
    renderings = [
        repr(s),
        str(s),
        f"{s}",
        f"{s:>40}",
        f"{s!r}",
        "%s" % s,  # noqa: UP031 - the logging style of formatting
        "{}".format(s),  # noqa: UP032
        repr([s]),
        repr({"k": s}),
    ]
    for text in renderings:
        assert VALUE not in text
    assert repr(s) == "Secret('***')"
    assert str(s) == MASK


def test_struct_repr_and_exception_text_are_masked():
    creds = Creds(api_key=Secret(VALUE))
    assert VALUE not in repr(creds)
    err = RuntimeError(f"login failed for {creds.api_key}")
    assert VALUE not in str(err)


def test_msgspec_encoding_masks_with_the_hook_and_refuses_without_it():
    creds = Creds(api_key=Secret(VALUE), api_secret=Secret(VALUE + "x"))
    encoded = msgspec.json.encode(creds, enc_hook=enc_hook)
    assert VALUE.encode() not in encoded
    assert msgspec.json.decode(encoded) == {"api_key": MASK, "api_secret": MASK}
    with pytest.raises(TypeError) as err:
        msgspec.json.encode(creds)
    assert VALUE not in str(err.value)


def test_decoding_into_a_struct_with_the_hook():
    creds = msgspec.json.decode(b'{"api_key": "abc", "api_secret": null}', type=Creds, dec_hook=dec_hook)
    assert isinstance(creds.api_key, Secret)
    assert creds.api_key.reveal() == "abc"
    assert creds.api_secret is None
    converted = msgspec.convert({"api_key": Secret("already")}, Creds, dec_hook=dec_hook)
    assert converted.api_key.reveal() == "already"


def test_decoding_rejects_non_strings_without_echoing_them():
    with pytest.raises(msgspec.ValidationError) as err:
        msgspec.convert({"api_key": 123456789}, Creds, dec_hook=dec_hook)
    assert "123456789" not in str(err.value)
    assert "api_key" in str(err.value)


def test_equality_hash_and_matches():
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "!")
    assert Secret(VALUE) != VALUE  # a Secret never equals a plain string
    assert hash(Secret(VALUE)) == hash(Secret(VALUE))
    assert len({Secret(VALUE), Secret(VALUE)}) == 1
    assert Secret(VALUE).matches(VALUE)
    assert not Secret(VALUE).matches(VALUE[:-1])
    assert bool(Secret(VALUE)) and not bool(Secret(""))


def test_immutable_and_type_checked():
    s = Secret(VALUE)
    with pytest.raises(AttributeError):
        s._value = "other"
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_pickle_round_trip_keeps_the_value():
    s = pickle.loads(pickle.dumps(Secret(VALUE)))
    assert s.reveal() == VALUE


@given(value=st.text(min_size=1))
def test_no_rendering_contains_any_value(value):
    assume(value not in "Secret('***')" and value not in '"***"')
    s = Secret(value)
    for text in (
        repr(s),
        str(s),
        format(s, ""),
        f"{s:^10}",
        msgspec.json.encode(s, enc_hook=enc_hook).decode(),
    ):
        assert value not in text
    assert s.reveal() == value
