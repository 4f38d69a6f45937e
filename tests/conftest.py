"""Every test runs twice: with reverse mode's deferred values as in use (arrays of
at least settings.defer_bytes; the tests' arrays are mostly smaller, so nothing is
deferred) and with every deferrable value deferred, whatever its size."""
import pytest

from pyad._core.config import configured


@pytest.fixture(autouse=True, params=['eager', 'deferred'])
def values(request):
    if request.param == 'eager':
        yield request.param
        return
    with configured(defer_bytes=0):
        yield request.param
