"""The orjson fast path of request bodies: it answers only where it decodes exactly as the Python decoder."""
from __future__ import annotations

import pytest

from services.common.api import _DECODE, _SLOW, _fast_decode


@pytest.mark.parametrize("raw", [
    b'{"a": 1, "a": 2}', b'{"a": {"b": 1, "b": 2}}', b'{"\\u0061": 1, "a": 2}',   # repeated keys
    b'{"a": NaN}', b'{"a": 1e400}',                                                 # kept for the schema to refuse
    b'{"a": 123456789012345678901234567890}', b'{"a": -9223372036854775809}',      # orjson would make floats
    b'{"a": "\\ud800"}', b'{"t": "18:00"}', b'[' * 2000 + b']' * 2000, b'{"a": 1', b'\xff',
])
def test_doubtful_bodies_go_to_the_python_decoder(raw):
    assert _fast_decode(raw) is _SLOW


@pytest.mark.parametrize("raw", [
    b'{"a": 1, "b": [1.5, null, true, {"c": "x"}]}', b'[{"a": 1}, {"a": 1}]', b' {"a" : -0.0 } ',
    b'{"Store": 1, "Date": "10-08-2012", "Temperature": 85.05, "x": 18446744073709551}', b'"text"',
])
def test_plain_bodies_decode_as_the_python_decoder_does(raw):
    fast = _fast_decode(raw)
    assert fast is not _SLOW and repr(fast) == repr(_DECODE(raw.decode()))
