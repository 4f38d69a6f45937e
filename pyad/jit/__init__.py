"""pyad.jit: trace a function (a derivative included) once per input signature into
straight-line Python source of array-library calls, and run that on later calls.

``pyad.jit(f)`` -- the module is callable -- is ``pyad.jit.jit(f)``.  See docs/jit.md.
"""
import sys
import types

from .trace import JitError
from .api import jit, Jitted, Program, RetraceWarning
from .codegen import Retrace

__all__ = ['jit', 'Jitted', 'Program', 'JitError', 'RetraceWarning', 'Retrace']


class _CallableModule(types.ModuleType):
    """``pyad.jit(f)`` as well as ``pyad.jit.jit(f)``."""

    def __call__(self, fn=None, **options):
        return jit(fn, **options)


sys.modules[__name__].__class__ = _CallableModule
