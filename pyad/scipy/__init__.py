"""Differentiable SciPy: ``pyad.scipy.special``, ``pyad.scipy.stats``,
``pyad.scipy.signal`` and ``pyad.scipy.integrate``, each like its SciPy namesake."""
from . import special, stats, signal, integrate

__all__ = ["special", "stats", "signal", "integrate"]
