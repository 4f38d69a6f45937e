"""Every test runs twice: with reverse mode's deferred values as in use (arrays of
at least reverse.DEFER_BYTES; the tests' arrays are mostly smaller, so nothing is
deferred) and with every deferrable value deferred, whatever its size."""
import pytest

from pyad._core import reverse


@pytest.fixture(autouse=True, params=['eager', 'deferred'])
def values(request):
    if request.param == 'eager':
        yield request.param
        return
    old = reverse.DEFER_BYTES
    reverse.DEFER_BYTES = 0
    try:
        yield request.param
    finally:
        reverse.DEFER_BYTES = old
