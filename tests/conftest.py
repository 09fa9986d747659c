"""Suite-wide test isolation."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_decimal_context() -> Iterator[None]:
    """Every test starts with Python's default Decimal context.

    Third-party clients change the thread's context as a side effect (ccxt's decimal_to_precision sets
    ROUND_HALF_UP and traps Underflow); without this, results would depend on which test ran before.
    """
    decimal.setcontext(decimal.Context())
    yield
    decimal.setcontext(decimal.Context())
