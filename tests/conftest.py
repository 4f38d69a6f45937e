"""Every test runs twice: with reverse mode's deferred values as in use (arrays of
at least settings.defer_bytes; the tests' arrays are mostly smaller, so nothing is
deferred) and with every deferrable value deferred, whatever its size."""
import os

import pytest
from hypothesis import settings

from pyad._core.config import configured

# Hypothesis: in CI (the CI environment variable set, as CI services and .ci/run do)
# every run draws the same examples and keeps no database, so a run's result depends
# on the code alone.  Elsewhere examples are random (more of the input space over
# many runs); the properties hold for every input, so neither profile may fail.
settings.register_profile('ci', derandomize=True, database=None, print_blob=True)
settings.register_profile('dev', print_blob=True)
settings.load_profile(os.environ.get('PYAD_HYPOTHESIS_PROFILE', 'ci' if os.environ.get('CI') else 'dev'))


@pytest.fixture(autouse=True, params=['eager', 'deferred'])
def values(request):
    if request.param == 'eager':
        yield request.param
        return
    with configured(defer_bytes=0):
        yield request.param
