"""Tags: one per operator call, never reused, live only while that call runs.

A tag names one level of differentiation. Every value wrapped for a level (a dual
number in forward mode, a tape variable in reverse mode) carries its tag; a
primitive acts on the newest *live* tag among its arguments only, so values of
different operator calls are never confused (perturbation confusion), and a
value that escapes its operator (its tag retired) is just a constant.
"""
import itertools
import threading

# One counter for the whole process.  ``next`` on itertools.count is a single C
# call, but the lock keeps the guarantee explicit (and true on free-threaded builds).
_counter = itertools.count(1)
_counter_lock = threading.Lock()


FORWARD = 'forward'
REVERSE = 'reverse'
TAYLOR = 'taylor'
BATCH = 'batch'
_MODES = {FORWARD: FORWARD, REVERSE: REVERSE, TAYLOR: TAYLOR, BATCH: BATCH}


class Tag:
    """One level of differentiation: created by an operator call, retired when it returns.

    ``mode`` is 'forward', 'reverse', 'taylor' or 'batch' (a vmap: see
    _core/batching.py); a reverse tag owns the tape it records on; a Taylor tag knows the order of its truncated series.
    """
    __slots__ = ('id', 'live', 'mode', 'tape', 'order')

    def __init__(self, mode, tape=None, order=0):
        with _counter_lock:
            self.id = next(_counter)
        self.live = True
        self.mode = _MODES[mode]        # interned: compared with `is`
        self.tape = tape
        self.order = order

    def retire(self):
        self.live = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.live = False
        return False

    def __repr__(self):
        state = 'live' if self.live else 'retired'
        return f'<Tag {self.id} {self.mode} {state}>'
