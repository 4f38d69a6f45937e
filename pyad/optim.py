"""Optimisers: first-order methods over pytrees, and second-order minimisers.

First-order optimisers are pairs of pure functions, as in optax::

    import pyad, pyad.optim as optim
    opt = optim.adam(lr=1e-2)
    state = opt.init(params)
    for step in range(100):
        g = pyad.grad(loss)(params)
        params, state = opt.update(g, state, params)

``params`` (and the gradients) may be any pytree of floats and arrays.  Every
update is written with ``pyad.numpy`` operations, so a whole training run is
differentiable: ``pyad.grad(lambda lr: final_loss(train(optim.sgd(lr))))(0.1)``
is a hypergradient.  The learning rate may be a number, a traced value, or a
schedule ``lr(step) -> number`` (step counts from 0).

Optimisers: :func:`sgd`, :func:`momentum` (``nesterov=True`` too),
:func:`adagrad`, :func:`rmsprop`, :func:`adam`.  Each takes ``clip_norm`` and
``clip_value`` (gradient clipping before the update; also available as
:func:`clip_by_global_norm` and :func:`clip_by_value`).

Minimisers of a scalar function of a pytree, each returning an
:class:`OptimizeResult`:

* :func:`newton` — ``gradhessian`` + ``linalg.solve_symmetric``, with a damped
  fallback where the Hessian is not positive definite, and an Armijo line search
  that tries the full step first (so a quadratic is solved in one step);
* :func:`newton_cg` — truncated conjugate gradients on ``hessianv`` (no dense Hessian);
* :func:`conjugate_gradient` — nonlinear CG (Polak–Ribière+), strong-Wolfe line search;
* :func:`gradient_descent` — steepest descent with a line search;
* :func:`minimize` — all of the above, and the first-order optimisers, by name.

Line searches: :func:`backtracking` (Armijo) and :func:`strong_wolfe`
(Nocedal & Wright, algorithms 3.5 and 3.6).

The minimisers work on a flat float64 (or float32) copy of the parameters with
plain NumPy between evaluations; they are not themselves traced.  Parameters on
a GPU (CuPy) stay there for every evaluation of f and its derivatives; only the
flat iterate and the derivatives travel between host and device.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional, Tuple, Union

import numpy as _onp

from . import numpy as pnp
from ._core.box import innermost, dtype_of
from ._core.pytree import tree_flatten, tree_unflatten, tree_map
from .backend import namespace, on_device_of, to_numpy
from .typing import Array, ArrayLike

LearningRate = Union[ArrayLike, Callable[[Any], ArrayLike]]
"""A number, a traced value, or a schedule ``lr(step)`` (step counting from 0)."""
LineSearch = Union[str, Callable[..., Any], None]
"""A line search by name ('backtracking', 'strong_wolfe'), a function, or None (no search)."""

__all__ = [
    'Optimizer', 'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam',
    'clip_by_global_norm', 'clip_by_value', 'global_norm', 'apply_updates',
    'OptimizeResult', 'minimize', 'newton', 'newton_step', 'newton_cg', 'conjugate_gradient',
    'gradient_descent', 'backtracking', 'strong_wolfe', 'LineSearchResult',
]


# ================================================================= first-order optimisers
class Optimizer(NamedTuple):
    """``init(params) -> state``; ``update(grads, state, params) -> (new_params, new_state)``.
    Both are pure: nothing is stored in the optimiser itself."""
    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], Tuple[Any, Any]]


def _lr_at(lr, count):
    return lr(count) if callable(lr) else lr


def _zeros_like_tree(params):
    return tree_map(lambda p: 0.0 * p if isinstance(p, float) else
                    _onp.zeros_like(innermost(p)), params)


def global_norm(tree: Any) -> Array:
    """sqrt(Σ leaf²) over every leaf (differentiable)."""
    total = 0.0
    for leaf in tree_flatten(tree)[0]:
        total = total + pnp.sum(leaf * leaf)
    return pnp.sqrt(total)


def clip_by_global_norm(grads: Any, max_norm: ArrayLike) -> Any:
    """Scale all gradients by min(1, max_norm / ‖grads‖) (differentiable; the
    direction is kept, as in Pascanu et al. 2013)."""
    norm = global_norm(grads)
    scale = pnp.minimum(1.0, max_norm / pnp.maximum(norm, 1e-30))
    return tree_map(lambda g: g * scale, grads)


def clip_by_value(grads: Any, limit: ArrayLike) -> Any:
    """Clip every gradient entry to [-limit, limit]."""
    return tree_map(lambda g: pnp.clip(g, -limit, limit), grads)


def _clip(grads, clip_norm, clip_value):
    if clip_value is not None:
        grads = clip_by_value(grads, clip_value)
    if clip_norm is not None:
        grads = clip_by_global_norm(grads, clip_norm)
    return grads


def apply_updates(params: Any, updates: Any) -> Any:
    """params + updates, leafwise."""
    return tree_map(lambda p, u: p + u, params, updates)


def _check_structure(grads, params):
    gd, pd = tree_flatten(grads)[1], tree_flatten(params)[1]
    if gd != pd:
        raise ValueError(f'optim: the gradients have structure {gd} but the parameters have '
                         f'structure {pd}')


class _State(NamedTuple):
    count: Any
    slots: Any


def _refuse_complex(name, params):
    """The optimisers and minimisers are written for real parameters: a complex one
    (whose gradient, in JAX's convention, is the conjugate of a descent direction's
    opposite) is refused rather than stepped the wrong way."""
    for leaf in tree_flatten(params)[0]:
        if _onp.dtype(dtype_of(leaf)).kind == 'c':
            raise TypeError(f'{name}: complex parameters are not supported; optimise the real '
                            f'and imaginary parts as two real arrays (z = x + 1j * y)')


def _make(name, slot_names, step, lr, clip_norm, clip_value, slot_fill=0.0):
    """An Optimizer whose state holds a step count and per-parameter slots
    (filled with ``slot_fill`` at the start)."""
    def init(params):
        _refuse_complex(name, params)
        zeros = tuple(_zeros_like_tree(params) for _ in slot_names)
        if slot_fill:
            zeros = tuple(tree_map(lambda z: z + slot_fill, z) for z in zeros)
        return _State(0, zeros)

    def update(grads, state, params):
        _check_structure(grads, params)
        grads = _clip(grads, clip_norm, clip_value)
        count = state.count
        rate = _lr_at(lr, count)
        pleaves, treedef = tree_flatten(params)
        gleaves = tree_flatten(grads)[0]
        slot_leaves = [tree_flatten(s)[0] for s in state.slots]
        new_params, new_slots = [], [[] for _ in slot_names]
        for i, (p, g) in enumerate(zip(pleaves, gleaves)):
            p_new, slots = step(p, g, tuple(s[i] for s in slot_leaves), rate, count + 1)
            new_params.append(p_new)
            for k, s in enumerate(slots):
                new_slots[k].append(s)
        return (tree_unflatten(treedef, new_params),
                _State(count + 1, tuple(tree_unflatten(treedef, s) for s in new_slots)))
    init.__name__ = f'{name}.init'
    update.__name__ = f'{name}.update'
    return Optimizer(init, update)


def sgd(lr: LearningRate = 1e-2, *, clip_norm: Optional[float] = None,
        clip_value: Optional[float] = None) -> Optimizer:
    """Plain gradient descent: p ← p - lr g."""
    def step(p, g, slots, rate, t):
        return p - rate * g, ()
    return _make('sgd', (), step, lr, clip_norm, clip_value)


def momentum(lr: LearningRate = 1e-2, beta: float = 0.9, *, nesterov: bool = False,
             clip_norm: Optional[float] = None, clip_value: Optional[float] = None) -> Optimizer:
    """Heavy-ball momentum: v ← β v + g; p ← p - lr v.  With ``nesterov=True``
    the step looks ahead: p ← p - lr (g + β v) (Sutskever et al. 2013's form)."""
    def step(p, g, slots, rate, t):
        v = beta * slots[0] + g
        direction = g + beta * v if nesterov else v
        return p - rate * direction, (v,)
    return _make('nesterov' if nesterov else 'momentum', ('velocity',), step, lr,
                 clip_norm, clip_value)


def nesterov(lr: LearningRate = 1e-2, beta: float = 0.9, **kwargs: Any) -> Optimizer:
    """Nesterov momentum: ``momentum(lr, beta, nesterov=True)``."""
    return momentum(lr, beta, nesterov=True, **kwargs)


def adagrad(lr: LearningRate = 1e-1, eps: float = 1e-8, initial_accumulator: float = 0.0, *,
            clip_norm: Optional[float] = None, clip_value: Optional[float] = None) -> Optimizer:
    """AdaGrad (Duchi et al. 2011): s ← s + g²; p ← p - lr g / (sqrt(s) + eps)."""
    def step(p, g, slots, rate, t):
        s = slots[0] + g * g
        return p - rate * g / (pnp.sqrt(s) + eps), (s,)
    return _make('adagrad', ('sum_of_squares',), step, lr, clip_norm, clip_value,
                 slot_fill=initial_accumulator)


def rmsprop(lr: LearningRate = 1e-3, decay: float = 0.9, eps: float = 1e-8, *,
            clip_norm: Optional[float] = None, clip_value: Optional[float] = None) -> Optimizer:
    """RMSProp (Tieleman & Hinton 2012): s ← ρ s + (1-ρ) g²; p ← p - lr g / (sqrt(s) + eps)."""
    def step(p, g, slots, rate, t):
        s = decay * slots[0] + (1.0 - decay) * (g * g)
        return p - rate * g / (pnp.sqrt(s) + eps), (s,)
    return _make('rmsprop', ('mean_square',), step, lr, clip_norm, clip_value)


def adam(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *,
         clip_norm: Optional[float] = None, clip_value: Optional[float] = None) -> Optimizer:
    """Adam (Kingma & Ba 2015), with bias correction."""
    def step(p, g, slots, rate, t):
        m = b1 * slots[0] + (1.0 - b1) * g
        v = b2 * slots[1] + (1.0 - b2) * (g * g)
        m_hat = m / (1.0 - b1 ** t)
        v_hat = v / (1.0 - b2 ** t)
        return p - rate * m_hat / (pnp.sqrt(v_hat) + eps), (m, v)
    return _make('adam', ('m', 'v'), step, lr, clip_norm, clip_value)


_FIRST_ORDER = {'sgd': sgd, 'momentum': momentum, 'nesterov': nesterov, 'adagrad': adagrad,
                'rmsprop': rmsprop, 'adam': adam}


# ================================================================= flat views for the minimisers
class _Flat:
    """A pytree of parameters as one flat vector, and f, ∇f on that vector."""

    def __init__(self, f, x0, name):
        leaves, self.treedef = tree_flatten(x0)
        if not leaves:
            raise ValueError(f'{name}: the starting point has no leaves')
        _refuse_complex(name, x0)
        self.is_float = []
        self.shapes, self.dtypes = [], []
        parts = []
        # the iterates live on the host; f is evaluated where x0's arrays live
        self.ref = next((innermost(l) for l in leaves if namespace(l) is not _onp), None)
        for leaf in leaves:
            inner = innermost(leaf)
            self.is_float.append(not hasattr(inner, 'dtype'))
            a = _onp.asarray(to_numpy(inner))
            if a.dtype.kind != 'f':
                a = a.astype(_onp.float64)
            self.shapes.append(a.shape)
            self.dtypes.append(a.dtype)
            parts.append(a.ravel())
        self.dtype = _onp.result_type(*self.dtypes)
        self.x0 = _onp.concatenate(parts).astype(self.dtype)
        self.f = f
        self.name = name

    def tree(self, z):
        out, offset = [], 0
        for shape, dtype, is_float in zip(self.shapes, self.dtypes, self.is_float):
            size = int(_onp.prod(shape))
            part = z[offset:offset + size]
            if type(part) is _onp.ndarray:                  # a host iterate
                part = part.astype(dtype).reshape(shape)
                if is_float:
                    out.append(float(part))
                elif self.ref is not None:
                    out.append(on_device_of(part, self.ref))
                else:
                    out.append(part if shape else part[()])
            else:                                            # traced: pyad.numpy reshape
                out.append(pnp.reshape(part, shape))
            offset += size
        return tree_unflatten(self.treedef, out)

    def flat_f(self, z):
        return self.f(self.tree(z))

    def dev(self, z):
        """A host iterate (or direction) moved to where f runs, to differentiate there."""
        return z if self.ref is None else on_device_of(z, self.ref)

    def host(self, a):
        """A derivative brought back to the host, in the iterates' dtype."""
        return _onp.asarray(to_numpy(a), dtype=self.dtype)

    def fgrad(self, z):
        from .operators import fgrad
        value, g = fgrad(self.flat_f)(self.dev(z))
        return float(innermost(value)), self.host(g)

    def value(self, z):
        return float(innermost(self.f(self.tree(z))))


class OptimizeResult(dict):
    """The outcome of a minimiser, with SciPy's field names (``scipy.optimize.
    OptimizeResult``: a dict whose keys read as attributes too):

    ``x`` (in the structure of x0), ``fun`` (f(x)), ``jac`` (∇f(x), in the
    structure of x0), ``nit`` (iterations), ``nfev`` (evaluations of f, counting
    gradient evaluations), ``success``, ``status`` (0 on success, 1 otherwise),
    ``message``, and pyad's ``grad_norm`` (‖∇f(x)‖₂) and ``history`` (f after
    each iteration).  The earlier names still read: ``f`` (fun), ``iterations``
    (nit), ``converged`` (success), ``evaluations`` (nfev)."""

    _ALIASES = {'f': 'fun', 'iterations': 'nit', 'converged': 'success', 'evaluations': 'nfev'}

    def __init__(self, x: Any, fun: float, jac: Any, nit: int, success: bool, message: str = '',
                 nfev: int = 0, history: tuple = (), grad_norm: float = float('nan')) -> None:
        super().__init__(x=x, fun=fun, jac=jac, nit=nit, nfev=nfev, success=success,
                         status=0 if success else 1, message=message, grad_norm=grad_norm,
                         history=history)

    def __getattr__(self, name):
        try:
            return self[self._ALIASES.get(name, name)]
        except KeyError:
            raise AttributeError(f'OptimizeResult has no field {name!r}; its fields are '
                                 f'{", ".join(self)}') from None

    def __dir__(self):
        return list(self) + list(self._ALIASES) + list(super().__dir__())

    def __repr__(self):
        width = max(map(len, self))
        return '\n'.join(f'{k.rjust(width)}: {v!r}' for k, v in self.items())


class _Counter:
    def __init__(self, flat):
        self.flat = flat
        self.count = 0

    def fgrad(self, z):
        self.count += 1
        return self.flat.fgrad(z)

    def value(self, z):
        self.count += 1
        return self.flat.value(z)


# ================================================================= line searches
class LineSearchResult(NamedTuple):
    """``alpha`` (the step), ``f`` and ``grad`` at x + alpha p, ``evaluations``,
    ``success``."""
    alpha: float
    f: float
    grad: Any
    evaluations: int
    success: bool


def backtracking(fg: Callable[[Array], Tuple[float, Array]], x: Array, p: Array, f0: float,
                 g0: Array, *, alpha0: float = 1.0, c1: float = 1e-4, shrink: float = 0.5,
                 max_iter: int = 50) -> LineSearchResult:
    """Armijo backtracking: the first alpha = alpha0 · shrink^k with
    f(x + alpha p) <= f(x) + c1 alpha ∇f(x)·p.  ``fg(z) -> (f, g)`` on flat vectors;
    ``p`` must be a descent direction."""
    slope = float(_onp.dot(g0, p))
    alpha = alpha0
    evaluations = 0
    best = None
    for _ in range(max_iter):
        f, g = fg(x + alpha * p)
        evaluations += 1
        if _onp.isfinite(f) and f <= f0 + c1 * alpha * slope:
            return LineSearchResult(alpha, f, g, evaluations, True)
        if _onp.isfinite(f) and (best is None or f < best[1]):
            best = (alpha, f, g)
        alpha *= shrink
    if best is not None and best[1] < f0:
        return LineSearchResult(best[0], best[1], best[2], evaluations, False)
    return LineSearchResult(0.0, f0, g0, evaluations, False)


def _cubic_min(a, fa, fpa, b, fb, c, fc):
    """The minimiser of the cubic through (a, fa, fpa), (b, fb), (c, fc), or None."""
    with _onp.errstate(all='ignore'):
        try:
            C = fpa
            db, dc = b - a, c - a
            denom = (db * dc) ** 2 * (db - dc)
            d1 = _onp.array([[dc ** 2, -db ** 2], [-dc ** 3, db ** 3]])
            A, B = d1 @ _onp.array([fb - fa - C * db, fc - fa - C * dc])
            A, B = A / denom, B / denom
            radical = B * B - 3 * A * C
            xmin = a + (-B + _onp.sqrt(radical)) / (3 * A)
        except (ArithmeticError, ValueError):
            return None
    return float(xmin) if _onp.isfinite(xmin) else None


def _quad_min(a, fa, fpa, b, fb):
    with _onp.errstate(all='ignore'):
        d = b - a
        B = (fb - fa - fpa * d) / (d * d)
        xmin = a - fpa / (2.0 * B)
    return float(xmin) if _onp.isfinite(xmin) else None


def strong_wolfe(fg: Callable[[Array], Tuple[float, Array]], x: Array, p: Array, f0: float,
                 g0: Array, *, alpha0: float = 1.0, c1: float = 1e-4, c2: float = 0.9,
                 alpha_max: float = 1e10, max_iter: int = 30) -> LineSearchResult:
    """A step satisfying the strong Wolfe conditions
    f(x + αp) <= f(x) + c1 α ∇f·p  and  |∇f(x + αp)·p| <= c2 |∇f(x)·p|
    (Nocedal & Wright, algorithms 3.5 and 3.6, with cubic/quadratic interpolation
    in the zoom).  Use c2 = 0.9 for Newton-like methods, 0.1 for nonlinear CG."""
    phi0 = f0
    dphi0 = float(_onp.dot(g0, p))
    evaluations = 0

    def phi(alpha):
        nonlocal evaluations
        evaluations += 1
        f, g = fg(x + alpha * p)
        return f, g, float(_onp.dot(g, p))

    def zoom(lo, hi, f_lo, g_lo, d_lo, f_hi):
        a_rec, f_rec = 0.0, phi0
        for i in range(max_iter):
            span = hi - lo
            a_j = None
            if i > 0:
                a_j = _cubic_min(lo, f_lo, d_lo, hi, f_hi, a_rec, f_rec)
                lo_b, hi_b = min(lo, hi), max(lo, hi)
                if a_j is not None and not (lo_b + 0.2 * abs(span) < a_j < hi_b - 0.2 * abs(span)):
                    a_j = None
            if a_j is None:
                a_j = _quad_min(lo, f_lo, d_lo, hi, f_hi)
                lo_b, hi_b = min(lo, hi), max(lo, hi)
                if a_j is None or not (lo_b + 0.1 * abs(span) < a_j < hi_b - 0.1 * abs(span)):
                    a_j = lo + 0.5 * span
            f_j, g_j, d_j = phi(a_j)
            if not _onp.isfinite(f_j) or f_j > phi0 + c1 * a_j * dphi0 or f_j >= f_lo:
                a_rec, f_rec = hi, f_hi
                hi, f_hi = a_j, f_j
            else:
                if abs(d_j) <= -c2 * dphi0:
                    return a_j, f_j, g_j, True
                if d_j * (hi - lo) >= 0:
                    a_rec, f_rec = hi, f_hi
                    hi, f_hi = lo, f_lo
                else:
                    a_rec, f_rec = lo, f_lo
                lo, f_lo, g_lo, d_lo = a_j, f_j, g_j, d_j
            if abs(hi - lo) <= 1e-14 * max(1.0, abs(lo)):
                break
        return lo, f_lo, g_lo, False

    a_prev, f_prev, g_prev, d_prev = 0.0, phi0, g0, dphi0
    alpha = alpha0
    for i in range(max_iter):
        f_a, g_a, d_a = phi(alpha)
        if not _onp.isfinite(f_a) or f_a > phi0 + c1 * alpha * dphi0 or (i > 0 and f_a >= f_prev):
            a, f, g, ok = zoom(a_prev, alpha, f_prev, g_prev, d_prev, f_a)
            break
        if abs(d_a) <= -c2 * dphi0:
            a, f, g, ok = alpha, f_a, g_a, True
            break
        if d_a >= 0:
            a, f, g, ok = zoom(alpha, a_prev, f_a, g_a, d_a, f_prev)
            break
        a_prev, f_prev, g_prev, d_prev = alpha, f_a, g_a, d_a
        alpha = min(2.0 * alpha, alpha_max)
    else:
        a, f, g, ok = a_prev, f_prev, g_prev, False
    if a == 0.0 or not f <= phi0:
        return LineSearchResult(0.0, phi0, g0, evaluations, False)
    return LineSearchResult(a, f, g, evaluations, ok)


_LINE_SEARCHES = {'backtracking': backtracking, 'armijo': backtracking,
                  'strong_wolfe': strong_wolfe, 'wolfe': strong_wolfe}


def _line_search(name, c2=None):
    if callable(name):
        return name
    if name not in _LINE_SEARCHES:
        raise ValueError(f'unknown line search {name!r}; choose one of {sorted(_LINE_SEARCHES)}')
    ls = _LINE_SEARCHES[name]
    if ls is strong_wolfe and c2 is not None:
        return lambda *a, **k: strong_wolfe(*a, c2=c2, **k)
    return ls


# ================================================================= second-order and CG minimisers
def _solve_symmetric(H, g):
    """H⁻¹ g for symmetric H, on plain arrays (the drivers below work on copies)."""
    from .linalg import solve_symmetric
    return _onp.asarray(innermost(solve_symmetric(H, g)), dtype=H.dtype)


def newton_step(f: Callable[..., Any], x: ArrayLike) -> Array:
    """One pure Newton step x - H⁻¹∇f(x) (DiffSharp's Newton step), written with
    pyad operations: it is differentiable in x and in anything f closes over, so a
    Newton iteration can sit inside a function that is differentiated in turn.
    For a single array x; H must be symmetric positive definite."""
    from .operators import gradhessian
    from .linalg import solve_symmetric
    g, H = gradhessian(f)(x)
    return x - solve_symmetric(H, g)


def _result(flat, z, f, g, it, converged, message, counter, history):
    return OptimizeResult(flat.tree(z), float(f), flat.tree(g), it, bool(converged), message,
                          counter.count, tuple(history), float(_onp.linalg.norm(g)))


def _converged(g, f_old, f_new, gtol, ftol):
    if float(_onp.linalg.norm(g, _onp.inf)) <= gtol:
        return 'gradient norm below gtol'
    if f_old is not None and abs(f_old - f_new) <= ftol * max(1.0, abs(f_new)):
        return 'relative decrease of f below ftol'
    return None


def newton(f: Callable[..., Any], x0: Any, *, gtol: float = 1e-8, ftol: float = 0.0,
           max_iter: int = 100, line_search: LineSearch = 'backtracking',
           damping: float = 1e-8) -> OptimizeResult:
    """Newton's method (DiffSharp's ``argminNewton``): x ← x - α H⁻¹ ∇f, with
    (∇f, H) from one ``pyad.gradhessian`` and H⁻¹∇f from ``pyad.linalg.solve_symmetric``.

    The line search (``'backtracking'``, ``'strong_wolfe'``, a callable, or
    ``None`` for the pure step α = 1) tries α = 1 first, so a strictly convex
    quadratic is minimised in one step.  Where the Hessian is not positive
    definite (the Newton direction is not a descent direction, or H is singular),
    the step is damped: H + τ I with τ growing from ``damping`` · max|H| until it is
    (Nocedal & Wright, algorithm 3.3)."""
    from .operators import fgradhessian
    flat = _Flat(f, x0, 'newton')
    counter = _Counter(flat)
    ls = None if line_search is None else _line_search(line_search)
    z = flat.x0.copy()
    history = []
    f_old = None
    message = 'maximum number of iterations reached'
    converged = False
    it = 0
    while True:
        value, g, H = fgradhessian(flat.flat_f)(flat.dev(z))
        counter.count += 1
        value = float(innermost(value))
        g, H = flat.host(g), flat.host(H)
        history.append(value)
        reason = _converged(g, f_old, value, gtol, ftol)
        if reason is not None:
            converged, message = True, reason
            break
        if it >= max_iter:
            break
        p = _newton_direction(H, g, damping)
        if ls is None:
            z = z + p
        else:
            step = ls(counter.fgrad, z, p, value, g)
            if step.alpha == 0.0:
                message = 'line search failed to decrease f'
                break
            z = z + step.alpha * p
        f_old = value
        it += 1
    return _result(flat, z, value, g, it, converged, message, counter, history)


def _newton_direction(H, g, damping):
    n = len(g)
    try:
        p = -_solve_symmetric(H, g)
        if _onp.all(_onp.isfinite(p)) and float(p @ g) < 0:
            return p
    except (_onp.linalg.LinAlgError, ValueError, ArithmeticError):
        pass
    scale = max(float(_onp.max(_onp.abs(H), initial=0.0)), 1.0)
    tau = damping * scale
    eye = _onp.eye(n, dtype=H.dtype)
    for _ in range(60):
        try:
            L = _onp.linalg.cholesky(H + tau * eye)
            y = _onp.linalg.solve(L, -g)
            return _onp.linalg.solve(L.T, y)
        except _onp.linalg.LinAlgError:
            tau = max(2.0 * tau, 1e-3 * scale)
    return -g


def _truncated_cg(hvp, g, tol, max_iter):
    """Approximately solve H p = -g by CG, stopping at negative curvature
    (Steihaug): returns p (a descent direction)."""
    p = _onp.zeros_like(g)
    r = g.copy()                    # residual of H p + g
    d = -r
    rr = float(r @ r)
    for i in range(max_iter):
        Hd = hvp(d)
        curvature = float(d @ Hd)
        if curvature <= 1e-16 * float(d @ d):
            return -g if i == 0 else p
        alpha = rr / curvature
        p = p + alpha * d
        r = r + alpha * Hd
        rr_new = float(r @ r)
        if math.sqrt(rr_new) <= tol:
            return p
        d = -r + (rr_new / rr) * d
        rr = rr_new
    return p


def _descend(name, f, x0, gtol, ftol, max_iter, line_search, direction, c2=None):
    """The loop shared by the line-search minimisers: test convergence, ask
    ``direction(counter, flat, z, value, g)`` for (p, alpha0) (alpha0 None: the
    line search's own first trial), search along p, step."""
    flat = _Flat(f, x0, name)
    counter = _Counter(flat)
    ls = _line_search(line_search, c2=c2)
    z = flat.x0.copy()
    value, g = counter.fgrad(z)
    history = [value]
    f_old = None
    converged, message = False, 'maximum number of iterations reached'
    it = 0
    while True:
        reason = _converged(g, f_old, value, gtol, ftol)
        if reason is not None:
            converged, message = True, reason
            break
        if it >= max_iter:
            break
        p, alpha0 = direction(counter, flat, z, value, g)
        if alpha0 is None:
            step = ls(counter.fgrad, z, p, value, g)
        else:
            step = ls(counter.fgrad, z, p, value, g, alpha0=alpha0)
        if step.alpha == 0.0:
            if direction.retry(p, g):
                continue
            message = 'line search failed to decrease f'
            break
        z = z + step.alpha * p
        f_old, value, g = value, step.f, _onp.asarray(step.grad)
        direction.stepped(step, f_old)
        it += 1
        history.append(value)
    return _result(flat, z, value, g, it, converged, message, counter, history)


class _Direction:
    """A search-direction rule: __call__ gives (p, alpha0); ``retry`` says whether a
    failed line search should be tried again (with a new direction); ``stepped``
    hears about each accepted step."""
    def retry(self, p, g):
        return False

    def stepped(self, step, f_old):
        pass


class _TruncatedNewton(_Direction):
    def __init__(self, cg_rtol, cg_max_iter):
        self.cg_rtol = cg_rtol
        self.cg_max_iter = cg_max_iter

    def __call__(self, counter, flat, z, value, g):
        from .operators import hessianv
        gnorm = float(_onp.linalg.norm(g))
        tol = (min(0.5, math.sqrt(gnorm)) if self.cg_rtol is None else self.cg_rtol) * gnorm

        def hvp(d):
            counter.count += 1
            return flat.host(hessianv(flat.flat_f)(flat.dev(z), flat.dev(d.astype(flat.dtype))))
        return _truncated_cg(hvp, g, tol, self.cg_max_iter or 10 * len(z)), None


class _PolakRibiere(_Direction):
    def __init__(self, restart):
        self.restart = restart
        self.p = None               # the last direction, and the gradient it was taken at
        self.g = None
        self.steps = 0
        self.alpha0 = None
        self.steepest = False       # retry a failed search along -g, same first trial

    def __call__(self, counter, flat, z, value, g):
        if self.p is None:                                 # first step: steepest descent
            self.restart = self.restart or max(len(z), 1)
            p = -g
            self.alpha0 = 1.0 / max(1.0, float(_onp.linalg.norm(g)))
        elif self.steepest:
            p = -g
        else:
            beta = max(0.0, float(g @ (g - self.g)) / max(float(self.g @ self.g), 1e-300))
            if self.steps % self.restart == 0:
                beta = 0.0
            p = -g + beta * self.p
            # the next trial step: the previous decrease, predicted along the new direction
            slope = float(g @ p)
            self.alpha0 = (min(1.0, 2.02 * (value - self.f_old) / slope)
                           if slope < 0 and value < self.f_old else 1.0)
            self.alpha0 = max(self.alpha0, 1e-10)
        if float(g @ p) >= 0:
            p = -g
        self.steepest = False
        self.p, self.g = p, g
        return p, self.alpha0

    def retry(self, p, g):
        if _onp.array_equal(p, -g):
            return False
        self.steepest = True
        return True

    def stepped(self, step, f_old):
        self.steps += 1
        self.f_old = f_old


class _SteepestDescent(_Direction):
    alpha0 = 1.0

    def __call__(self, counter, flat, z, value, g):
        return -g, self.alpha0

    def stepped(self, step, f_old):
        self.alpha0 = min(2.0 * step.alpha, 1e10)          # the last good step, a little larger


def newton_cg(f: Callable[..., Any], x0: Any, *, gtol: float = 1e-8, ftol: float = 0.0,
              max_iter: int = 200, cg_max_iter: Optional[int] = None,
              cg_rtol: Optional[float] = None,
              line_search: LineSearch = 'backtracking') -> OptimizeResult:
    """Truncated Newton: each step solves H p = -∇f approximately by conjugate
    gradients on Hessian-vector products (``pyad.hessianv``: reverse over forward,
    no dense Hessian), to a relative tolerance min(0.5, sqrt‖∇f‖) (Nocedal &
    Wright, algorithm 7.1) or to ``cg_rtol`` if given, stopping early at negative
    curvature; then a line search.  With a small ``cg_rtol`` each step is an exact
    Newton step (a quadratic is then solved in one step, by at most n CG iterations)."""
    return _descend('newton_cg', f, x0, gtol, ftol, max_iter, line_search,
                    _TruncatedNewton(cg_rtol, cg_max_iter))


def conjugate_gradient(f: Callable[..., Any], x0: Any, *, gtol: float = 1e-6, ftol: float = 0.0,
                       max_iter: int = 1000,
                       line_search: LineSearch = 'strong_wolfe',
                       restart: Optional[int] = None) -> OptimizeResult:
    """Nonlinear conjugate gradients, Polak–Ribière+ (β = max(0, gₖ₊₁·(gₖ₊₁ - gₖ)/‖gₖ‖²)),
    with a strong-Wolfe line search (c2 = 0.1), restarted along -∇f every
    ``restart`` iterations (default n) or when the direction is not a descent direction."""
    return _descend('conjugate_gradient', f, x0, gtol, ftol, max_iter, line_search,
                    _PolakRibiere(restart), c2=0.1)


def gradient_descent(f: Callable[..., Any], x0: Any, *, gtol: float = 1e-6, ftol: float = 0.0,
                     max_iter: int = 10000,
                     line_search: LineSearch = 'backtracking') -> OptimizeResult:
    """Steepest descent with a line search (slow on ill-conditioned problems; a baseline)."""
    return _descend('gradient_descent', f, x0, gtol, ftol, max_iter, line_search,
                    _SteepestDescent())


def _float_start(leaf):
    """An integer leaf of a starting point as a float (as SciPy's minimize does): the
    iterates are floats."""
    kind = getattr(getattr(leaf, 'dtype', None), 'kind', None)
    if kind in ('i', 'u', 'b'):
        return leaf.astype(_onp.float64)
    if isinstance(leaf, (int, _onp.integer)):
        return float(leaf)
    return leaf


def _run_first_order(opt, f, x0, *, gtol, ftol, max_iter):
    """Iterate a first-order optimiser on the pytree itself."""
    from .operators import fgrad
    params = tree_map(_float_start, x0)
    state = opt.init(params)
    history = []
    converged, message = False, 'maximum number of iterations reached'
    value = g = None
    it = 0
    while True:
        value, g = fgrad(f)(params)
        gflat = _onp.concatenate([_onp.ravel(_onp.asarray(innermost(l), dtype=_onp.float64))
                                  for l in tree_flatten(g)[0]])
        value = float(innermost(value))
        history.append(value)
        if float(_onp.linalg.norm(gflat, _onp.inf)) <= gtol:
            converged, message = True, 'gradient norm below gtol'
            break
        if not _onp.isfinite(value):
            message = 'f is not finite'
            break
        if it >= max_iter:
            break
        params, state = opt.update(g, state, params)
        it += 1
    return OptimizeResult(params, value, g, it, converged, message, it + 1, tuple(history),
                          float(_onp.linalg.norm(gflat)))


_METHODS = {'newton': newton, 'newton-cg': newton_cg, 'newton_cg': newton_cg,
            'cg': conjugate_gradient, 'conjugate_gradient': conjugate_gradient,
            'gd': gradient_descent, 'gradient_descent': gradient_descent}


def minimize(f: Callable[..., Any], x0: Any, method: Any = 'newton-cg', *,
             gtol: Optional[float] = None, ftol: float = 0.0, max_iter: Optional[int] = None,
             **options: Any) -> OptimizeResult:
    """Minimise a scalar function of a pytree; returns an :class:`OptimizeResult`.

    ``method``: ``'newton'``, ``'newton-cg'`` (the default), ``'cg'`` (nonlinear
    conjugate gradients), ``'gd'`` (steepest descent with a line search), or a
    first-order optimiser — ``'sgd'``, ``'momentum'``, ``'nesterov'``,
    ``'adagrad'``, ``'rmsprop'``, ``'adam'`` — or an :class:`Optimizer`, run for
    ``max_iter`` steps (default 1000) with ``options`` passed to its constructor
    (``lr=...``).  ``gtol`` is the stopping tolerance on max|∇f|."""
    if isinstance(method, Optimizer) or (isinstance(method, str) and method in _FIRST_ORDER):
        opt = method if isinstance(method, Optimizer) else _FIRST_ORDER[method](**options)
        return _run_first_order(opt, f, x0, gtol=1e-6 if gtol is None else gtol, ftol=ftol,
                                max_iter=1000 if max_iter is None else max_iter)
    key = method.lower() if isinstance(method, str) else method
    if key not in _METHODS:
        raise ValueError(f'minimize: unknown method {method!r}; choose one of '
                         f'{sorted(set(_METHODS) | set(_FIRST_ORDER))} or pass an Optimizer')
    kwargs = dict(options)
    if gtol is not None:
        kwargs['gtol'] = gtol
    if max_iter is not None:
        kwargs['max_iter'] = max_iter
    return _METHODS[key](f, x0, ftol=ftol, **kwargs)
