"""``pyad.numpy.linalg``: the differentiable stand-in for ``numpy.linalg``.

Everything is defined in ``pyad.linalg`` (which also has the SciPy-style
``solve_triangular``, ``solve_symmetric``, ``cho_solve`` and ``expm``); this module
re-exports it so that ``import pyad.numpy as np; np.linalg.solve(a, b)`` reads
like NumPy.
"""
from ..linalg import *              # noqa: F401,F403
from ..linalg import __all__        # noqa: F401
from ..linalg import SlogdetResult, EighResult, SVDResult, QRResult, LstsqResult   # noqa: F401
