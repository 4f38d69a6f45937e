"""The engine's switches, in one place: the fast paths and their thresholds.

``settings.fast``: the speed traits of primitives are used (partial derivatives
at hand, in-place sums into fresh buffers, lazy constant factors, indexing
shortcuts, deferred values).  Off: every primitive takes its plain rules, every
sum is a new array, every factor is applied at once -- the *reference mode*
(``pyad.testing.reference()``), against which ``check_grads`` compares.

``settings.stub_bytes``: arrays of at least this many bytes that no recorded
rule reads are replaced on the tape by their shape and dtype (0: every array,
which is how a false ``reads`` trait is caught on small test arrays).

``settings.defer_bytes``: in fast mode, arrays of at least this size may be
deferred (None: never).

``settings.validate``: the traits are checked as they are used where that can be
done on the spot (an array a ``fresh`` rule returns must be held by nothing
else), as ``check_grads`` does.
"""
import contextlib


class Settings:
    __slots__ = ('fast', 'stub_bytes', 'defer_bytes', 'validate')

    def __init__(self):
        self.fast = True
        self.stub_bytes = 1 << 16
        self.defer_bytes = 1 << 16
        self.validate = False


settings = Settings()


@contextlib.contextmanager
def configured(**changes):
    """Settings changed for the duration of a ``with`` block (not thread-local:
    for tests and checks, not for concurrent use)."""
    old = {name: getattr(settings, name) for name in changes}
    for name, value in changes.items():
        setattr(settings, name, value)
    try:
        yield settings
    finally:
        for name, value in old.items():
            setattr(settings, name, value)


def reference():
    """Every fast path off, every array stubbed unless a rule declares it reads it."""
    return configured(fast=False, stub_bytes=0, defer_bytes=None)


def strict():
    """Fast paths on, every stub and deferral forced whatever the array size, and
    the traits checked as they are used: what check_grads compares with the
    reference."""
    return configured(fast=True, stub_bytes=0, defer_bytes=0, validate=True)
