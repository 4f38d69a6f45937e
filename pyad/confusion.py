"""The perturbation-confusion suite: nested derivatives from the literature.

Run it with::

    python3 -m pyad.confusion

Each case computes a nested derivative with pyad and compares it with a value
derived **by hand** (the derivation is in the case's docstring).  Perturbation
confusion — a derivative of one operator call leaking into another's — gives a
wrong number in these cases, not an exception, which is why each is checked
against a closed form rather than against pyad itself.

Sources
-------
[SP05]  J. M. Siskind, B. A. Pearlmutter, "Perturbation confusion and referential
        transparency: correct functional implementation of forward-mode AD", IFL 2005.
[SP08]  J. M. Siskind, B. A. Pearlmutter, "Nesting forward-mode AD in a functional
        framework", Higher-Order and Symbolic Computation 21(4), 2008.
[MPRRS19] O. Manzyuk, B. A. Pearlmutter, A. A. Radul, D. R. Rush, J. M. Siskind,
        "Perturbation confusion in forward automatic differentiation of higher-order
        functions", Journal of Functional Programming 29, e12, 2019.
[DS]    DiffSharp (Baydin, Pearlmutter, Siskind), nested-derivative tests and examples
        (charged particle, nested optimisation, higher derivatives of tanh).
[FD83]  ForwardDiff.jl issue #83, "Perturbation confusion (nested differentiation)",
        fixed by tagged duals (ForwardDiff v0.6 tags).
[PYAD]  pyad's own invariants (DESIGN.md): dead tags are constants, higher-order
        functions differentiate afresh, every nesting of forward and reverse.
"""
import math
import sys

import numpy as _onp

from . import operators as _ops
from . import numpy as pnp
from ._core.pytree import tree_flatten
from ._core.box import innermost

diff, diff2, diffn, grad = _ops.diff, _ops.diff2, _ops.diffn, _ops.grad
hessian, hessianv, jacobian, laplacian = _ops.hessian, _ops.hessianv, _ops.jacobian, _ops.laplacian
jacobianv, jacobianTv, gradv = _ops.jacobianv, _ops.jacobianTv, _ops.gradv

__all__ = ['Case', 'CASES', 'run', 'check']


class Case:
    """One nested-derivative case: ``compute()`` runs pyad; ``expected`` was derived by hand."""
    __slots__ = ('name', 'citation', 'compute', 'expected', 'tol', 'doc')

    def __init__(self, name, citation, compute, expected, tol=1e-9, doc=None):
        self.name = name
        self.citation = citation
        self.compute = compute
        self.expected = expected
        self.tol = tol
        self.doc = doc if doc is not None else (compute.__doc__ or '').strip()

    def __repr__(self):
        return f'<confusion case {self.name}>'


CASES = []


def case(name, citation, expected, tol=1e-9):
    """Register the decorated zero-argument function as a case."""
    def register(fn):
        CASES.append(Case(name, citation, fn, expected, tol))
        return fn
    return register


# ------------------------------------------------------------------ [SP05]: the classic
@case('sp05_x_times_d_x_plus_y', '[SP05] §1; [FD83]', 1.0)
def _():
    """d/dx (x · d/dy (x + y)|_{y=1}) at x = 1.
    The inner derivative is 1 (x is a constant for it), so the outer function is x,
    whose derivative is 1.  A confused implementation answers 2."""
    return diff(lambda x: x * diff(lambda y: x + y)(1.0))(1.0)


@case('sp05_x_times_d_y_plus_x', '[SP05] (argument order swapped)', 1.0)
def _():
    """d/dx (x · d/dy (y + x)|_{y=1}) at x = 1: as above with the sum commuted: 1."""
    return diff(lambda x: x * diff(lambda y: y + x)(1.0))(1.0)


@case('sp05_x_times_d_x_times_y', '[SP05] (product variant)', 6.0)
def _():
    """d/dx (x · d/dy (x·y)|_{y=2}) at x = 3.
    Inner: ∂(xy)/∂y = x, so the outer function is x², derivative 2x = 6."""
    return diff(lambda x: x * diff(lambda y: x * y)(2.0))(3.0)


@case('sp05_x_times_d_y_times_x', '[SP05] (product variant, y·x)', 6.0)
def _():
    """d/dx (x · d/dy (y·x)|_{y=2}) at x = 3: inner y·x gives x; (x²)' = 2x = 6."""
    return diff(lambda x: x * diff(lambda y: y * x)(2.0))(3.0)


@case('sp05_mixed_partial', '[SP05]', 1.0)
def _():
    """d/dx d/dy (x·y) at (x, y) = (5, 7): the mixed partial of xy is 1."""
    return diff(lambda x: diff(lambda y: x * y)(7.0))(5.0)


@case('fd83_issue_reverse_outer', '[FD83], with the outer derivative in reverse mode', 1.0)
def _():
    """grad(x -> x * D(y -> x + y)(1))(1): inner derivative 1, outer d/dx x = 1."""
    return grad(lambda x: x * diff(lambda y: x + y)(1.0))(1.0)


@case('fd83_inner_closure_captures_outer_dual', '[FD83]', math.cos(1.0) - 2.0 * math.sin(1.0))
def _():
    """D(x -> D(y -> sin(x·y))(x))(1).
    Inner: ∂ sin(xy)/∂y = x cos(xy); at y = x: x cos(x²).
    Outer: d/dx [x cos x²] = cos x² − 2x² sin x²; at 1: cos 1 − 2 sin 1."""
    return diff(lambda x: diff(lambda y: pnp.sin(x * y))(x))(1.0)


@case('fd83_same_function_object_twice',
      '[FD83] (derivative of a function that calls D on the same f)', 15.0)
def _():
    """f(x) = x³; h(x) = f'(x) · f(x) = 3x² · x³ = 3x⁵; h'(x) = 15x⁴; at 1: 15.
    The same function object f is differentiated inside and evaluated on the outer dual."""
    f = lambda x: x * x * x
    return diff(lambda x: diff(f)(x) * f(x))(1.0)


@case('fd83_d_of_d_same_object', '[FD83]', 12.0)
def _():
    """D(x -> D(f)(x))(2) with f(x) = x³: f''(x) = 6x; at 2: 12."""
    f = lambda x: x * x * x
    return diff(lambda x: diff(f)(x))(2.0)


# ---------------------------------------------------- closures in all four nestings
def _closure_outer(inner_op):
    # outer(x) = x · d/dy (x·y + y²)|_{y=x} = x · (x + 2y)|_{y=x} = 3x²
    return lambda x: x * inner_op(lambda y: x * y + y * y)(x)


@case('closure_forward_in_forward', '[SP08] §3 (closure over the outer variable)', 12.0)
def _():
    """d/dx [x · ∂/∂y (xy + y²)|_{y=x}] = d/dx 3x² = 6x; at x = 2: 12 (diff in diff)."""
    return diff(_closure_outer(diff))(2.0)


@case('closure_forward_in_reverse', '[PYAD] forward inside reverse', 12.0)
def _():
    """As closure_forward_in_forward, outer grad, inner diff: 6x at 2 = 12."""
    return grad(_closure_outer(diff))(2.0)


@case('closure_reverse_in_forward', '[PYAD] reverse inside forward', 12.0)
def _():
    """As closure_forward_in_forward, outer diff, inner grad: 6x at 2 = 12."""
    return diff(_closure_outer(grad))(2.0)


@case('closure_reverse_in_reverse', '[PYAD] reverse inside reverse', 12.0)
def _():
    """As closure_forward_in_forward, outer grad, inner grad: 6x at 2 = 12."""
    return grad(_closure_outer(grad))(2.0)


@case('three_levels_mixed', '[SP08] (deeper nesting), modes mixed', 8.0)
def _():
    """d/dx grad_y [ y · d/dz (x y z)|_{z=1} ]|_{y=x} at x = 2.
    Innermost: ∂(xyz)/∂z = xy; times y: xy²; ∂/∂y: 2xy; at y = x: 2x²; d/dx: 4x = 8."""
    return diff(lambda x: grad(lambda y: diff(lambda z: x * y * z)(1.0) * y)(x))(2.0)


@case('reverse_inner_symbolic_zero', '[PYAD] an inner gradient that is exactly zero', 0.0)
def _():
    """grad(x -> x · grad(y -> 3x)(1))(2): the inner function does not depend on y,
    so its gradient is 0, the outer function is 0, and so is its derivative."""
    return grad(lambda x: x * grad(lambda y: x * 3.0)(1.0))(2.0)


# ----------------------------------------- [MPRRS19]: higher-order functions ("amazing bug")
def _shift(u):
    """s u f x = f(x + u): the shift operator of [MPRRS19] §2.  D s 0 is the derivative
    operator itself: (D s 0) f x = d/du f(x + u)|_{u=0} = f'(x)."""
    return lambda f: (lambda x: f(x + u))


@case('mprrs19_shift_once', '[MPRRS19] §2, (D s 0) f x = f\'(x)', math.cos(0.5))
def _():
    """(D s 0) sin 0.5 = sin'(0.5) = cos 0.5."""
    derivative = diff(_shift)(0.0)
    return derivative(pnp.sin)(0.5)


@case('mprrs19_amazing_bug_exp', '[MPRRS19] §2, the "amazing bug": (D s 0)((D s 0) exp) 1', math.e)
def _():
    """((D s 0) ∘ (D s 0)) exp at 1 = exp''(1) = e.
    With tags chosen when D is applied (not when the function it returned is
    called) both derivatives share a tag and the answer is wrong."""
    derivative = diff(_shift)(0.0)
    return derivative(derivative(pnp.exp))(1.0)


@case('mprrs19_amazing_bug_cube', '[MPRRS19] §2, second derivative through D s 0', 12.0)
def _():
    """((D s 0) ∘ (D s 0)) (x ↦ x³) at 2 = 6x = 12."""
    derivative = diff(_shift)(0.0)
    return derivative(derivative(lambda x: x * x * x))(2.0)


@case('mprrs19_third_derivative', '[MPRRS19] §2, three-fold composition', 24.0)
def _():
    """(D s 0)³ (x ↦ x⁴) at 1 = 24x = 24."""
    derivative = diff(_shift)(0.0)
    return derivative(derivative(derivative(lambda x: x * x * x * x)))(1.0)


@case('mprrs19_curried_product', '[MPRRS19] §1, f = λx.λy. x·y', 3.0)
def _():
    """D(λx.λy. x·y)(2) is the function y ↦ ∂(xy)/∂x = y; applied to 3: 3."""
    return diff(lambda x: lambda y: x * y)(2.0)(3.0)


@case('mprrs19_returned_function_called_twice', '[MPRRS19] fresh tags per call', 30.0 + 12.0)
def _():
    """g = D(λx.λy. x²y)(3) is y ↦ 2xy = 6y; g(2) + g(5) = 12 + 30 = 42.
    Each call of g must differentiate afresh (no stale tag from the first call)."""
    g = diff(lambda x: lambda y: x * x * y)(3.0)
    return g(2.0) + g(5.0)


@case('mprrs19_returned_function_of_outer_dual', '[MPRRS19] §3', 1.0)
def _():
    """D(λy. D(λx.λz. x·z)(y)(y))(2).
    D(λx.λz. xz)(y) is z ↦ z; applied to y gives y; d/dy y = 1.  Here the argument of
    the returned function is the outer derivative's dual."""
    return diff(lambda y: diff(lambda x: lambda z: x * z)(y)(y))(2.0)


@case('mprrs19_differentiate_returned_function', '[MPRRS19] §3', -1.0)
def _():
    """g = D(λx.λy. sin(x·y))(1) is y ↦ y cos(y) (∂/∂x sin(xy) = y cos(xy) at x = 1);
    g'(y) = cos y − y sin y; at π: −1 − 0 = −1."""
    g = diff(lambda x: lambda y: pnp.sin(x * y))(1.0)
    return diff(g)(math.pi)


@case('mprrs19_higher_order_in_reverse', '[MPRRS19] with the outer derivative in reverse mode', 6.0)
def _():
    """grad(x -> D(λa.λb. a·b·x)(2)(x))(3): D(...)(2) is b ↦ b·x, at b = x: x²; 2x = 6."""
    return grad(lambda x: diff(lambda a: lambda b: a * b * x)(2.0)(x))(3.0)


# ------------------------------- [MPRRS19] §5: functions inside the returned structure
@case('dvl_amazing_bug_2', '[MPRRS19] §5 / DVL "amazing bug 2": f(x) = (y -> sin xy, g -> z -> g(x+z))',
      math.cos(3 * (3 + math.pi)) - 3 * (3 + math.pi) * math.sin(3 * (3 + math.pi)))
def _():
    """f(x) = (λy. sin(xy), λg.λz. g(x+z)); (ĝ, f̂) = D f 3.
    ĝ = λy. ∂/∂x sin(xy)|_{x=3} = λy. y cos(3y).
    f̂ = λg. D(λx.λz. g(x+z))(3) = λg.λz. ∂/∂x g(x+z)|_{x=3} = λg.λz. g'(3+z).
    f̂(ĝ)(π) = ĝ'(3+π) with ĝ'(y) = cos(3y) − 3y sin(3y), at y = 3 + π.
    Confusion (ĝ's derivative sharing f̂'s tag) drops or doubles the −3y sin 3y term."""
    g_hat, f_hat = diff(lambda x: (lambda y: pnp.sin(x * y),
                                   lambda g: (lambda z: g(x + z))))(3.0)
    return f_hat(g_hat)(math.pi)


def _continuation(x):
    """f(x)(k) = k(λy. a(x, y), λg. g(x)) with a(x, y) = x²y."""
    return lambda k: k(lambda y: x * x * y, lambda g: g(x))


@case('continuation_closures_called_outside', '[MPRRS19] §5, two closures handed out of D',
      (6.0, math.cos(1.5)))
def _():
    """D(f)(1.5)(k) with k(p, q) = (p, q) returns D of the pair of closures: (p̂, q̂).
    p̂(y) = ∂/∂x (x²y) = 2xy, at x = 1.5, y = 2: 6.
    q̂(g) = ∂/∂x g(x) = g'(x): q̂(sin) = cos 1.5."""
    p_hat, q_hat = diff(_continuation)(1.5)(lambda p, q: (p, q))
    return p_hat(2.0), q_hat(pnp.sin)


@case('continuation_closures_called_inside', '[MPRRS19] §5, the continuation calls both closures',
      6.0 + math.cos(1.5))
def _():
    """D(f)(1.5)(k) with k(p, q) = p(2) + q(sin) = 2x² + sin x: d/dx = 4x + cos x,
    at 1.5: 6 + cos 1.5."""
    return diff(_continuation)(1.5)(lambda p, q: p(2.0) + q(pnp.sin))


@case('continuation_closure_of_a_closure', '[MPRRS19] §5, one handed-out closure fed to the other',
      9.0)
def _():
    """(p̂, q̂) as above at x₀ = 1.5; q̂(λz. z·p̂(z)) = d/dx [x · p̂(x)] at x₀, where
    p̂(x) = 2x₀x (p̂ differentiates afresh: its own x is x₀, the argument a constant
    for it) so d/dx (2x₀x²) = 4x₀x = 4x₀² = 9.  Confusing p̂'s tag with q̂'s adds
    the term from p̂'s dependence on q̂'s perturbation."""
    p_hat, q_hat = diff(_continuation)(1.5)(lambda p, q: (p, q))
    return q_hat(lambda z: z * p_hat(z))


@case('dict_of_functions_under_grad', '[PYAD] a dict holding a function, inside reverse mode', 6.0)
def _():
    """grad(u -> D(λx. {'f': λy. x·y·u})(2)['f'](u))(3): D(...)['f'] is y ↦ y·u, at y = u: u²;
    d/du u² = 2u = 6."""
    return grad(lambda u: diff(lambda x: {'f': lambda y: x * y * u})(2.0)['f'](u))(3.0)


# ------------------------------------------------------------------- [DS]: DiffSharp's tests
def _tanh6(t):
    # d⁶/dx⁶ tanh x as a polynomial in t = tanh x: with p0 = t and
    # p_{n+1} = p_n'(t) · (1 − t²) (since tanh' = 1 − tanh²):
    # p1 = 1 − t²;  p2 = −2t + 2t³;  p3 = −2 + 8t² − 6t⁴;  p4 = 16t − 40t³ + 24t⁵;
    # p5 = 16 − 136t² + 240t⁴ − 120t⁶;  p6 = −272t + 1232t³ − 1680t⁵ + 720t⁷.
    return -272 * t + 1232 * t ** 3 - 1680 * t ** 5 + 720 * t ** 7


@case('ds_tanh_6th_derivative_forward', '[DS] higher derivatives of tanh', _tanh6(math.tanh(0.5)))
def _():
    """diffn(6, tanh)(0.5) = −272t + 1232t³ − 1680t⁵ + 720t⁷ with t = tanh 0.5."""
    return diffn(6, pnp.tanh)(0.5)


@case('ds_tanh_6th_derivative_alternating', '[DS] tanh⁽⁶⁾ with modes alternating',
      _tanh6(math.tanh(-0.3)))
def _():
    """tanh⁽⁶⁾(−0.3) by diff∘grad∘diff∘grad∘diff∘grad: same closed form, t = tanh(−0.3)."""
    f = pnp.tanh
    for op in (grad, diff, grad, diff, grad, diff):
        f = op(f)
    return f(-0.3)


@case('diffn_inside_grad', '[DS] higher derivatives nested in a gradient', 6.0)
def _():
    """grad(x ↦ d³/dy³ (x y³)|_{y=1})(2): the inner third derivative is 6x; its gradient 6."""
    return grad(lambda x: diffn(3, lambda y: x * y ** 3)(1.0))(2.0)


@case('diffn_inside_diffn', '[DS] higher derivatives nested in higher derivatives', 4.0)
def _():
    """d²/dx² [x · d²/dy² (x y²)|_{y=1}] = d²/dx² [x · 2x] = 4, at any x (here 0.7)."""
    return diffn(2, lambda x: x * diffn(2, lambda y: x * y * y)(1.0))(0.7)


@case('grad_inside_diffn', '[DS] a gradient nested in a higher derivative', 24.0)
def _():
    """d³/dx³ [∂/∂y (x⁴ y)|_{y=1}] = d³/dx³ x⁴ = 24x; at 1: 24."""
    return diffn(3, lambda x: grad(lambda y: x ** 4 * y)(1.0))(1.0)


@case('diffn_of_function_returning_function', '[MPRRS19] with diffn', 12.0)
def _():
    """diffn(2, λx.λy. x³ y)(2) is y ↦ 6xy = 12y; at y = 1: 12."""
    return diffn(2, lambda x: lambda y: x ** 3 * y)(2.0)(1.0)


def _particle_final_position(w):
    # Small version of the charged particle of [SP08] §5: a particle at x = 1,
    # at rest, in the potential p(x) = w x² / 2 (charge strength w), moved by two
    # steps of symplectic Euler with Δt = 1; the force is −∂p/∂x, taken with grad
    # inside whatever derivative is taken in w.
    force = lambda x: -grad(lambda z: w * z * z / 2.0)(x)
    x, v = 1.0, 0.0
    for _ in range(2):
        v = v + force(x)
        x = x + v
    return x


def _newton_root(f, derivative, w, steps=12):
    for _ in range(steps):
        w = w - f(w) / derivative(f)(w)
    return w


@case('ds_charged_particle_newton_forward', '[SP08] §5 / [DS] charged particle (small version)',
      (3.0 - math.sqrt(5.0)) / 2.0)
def _():
    """Find the charge w for which the particle reaches x = 0 after two steps.
    v1 = −w, x1 = 1 − w, v2 = −w − w(1 − w), x2 = 1 − 3w + w².
    x2(w) = 0 at w = (3 − √5)/2 (Newton from 0 converges to the smaller root).
    Newton's derivative (diff, forward) wraps the inner grad of the potential."""
    return _newton_root(_particle_final_position, diff, 0.0)


@case('ds_charged_particle_newton_reverse', '[SP08] §5 / [DS], outer derivative in reverse',
      (3.0 - math.sqrt(5.0)) / 2.0)
def _():
    """As ds_charged_particle_newton_forward, with grad for Newton's derivative."""
    return _newton_root(_particle_final_position, grad, 0.0)


def _argmin_gd(f, x0, rate, steps):
    x = x0
    for _ in range(steps):
        x = x - rate * grad(f)(x)
    return x


@case('ds_nested_minimisation', '[SP08] §4 / [DS] nested optimisation (argmin inside argmin)', 2.0,
      tol=1e-8)
def _():
    """min_x h(x), h(x) = g(x, y*(x)) + (x − 3)², y*(x) = argmin_y g(x, y), g = (y − x)² + y².
    ∂g/∂y = 4y − 2x = 0 → y* = x/2; g(x, x/2) = x²/2; h = x²/2 + (x − 3)²;
    h' = 3x − 6 = 0 → x* = 2.  Both argmins are gradient descent with grad; the outer
    gradient differentiates through the inner descent (reverse inside reverse)."""
    def h(x):
        y_star = _argmin_gd(lambda y: (y - x) ** 2 + y * y, 0.0, 0.2, 60)
        return (y_star - x) ** 2 + y_star * y_star + (x - 3.0) ** 2
    return _argmin_gd(h, 0.0, 0.25, 60)


def _rosenbrock_argmin(a):
    # argmin over (x, y) of (a − x)² + 100 (y − x²)² by Newton's method with grad and
    # hessian of a closure over a; the 2×2 Newton system is solved by Cramer's rule.
    f = lambda p: (a - p[0]) ** 2 + 100.0 * (p[1] - p[0] * p[0]) ** 2
    p = (1.2, 1.2)
    for _ in range(25):
        gx, gy = grad(f)(p)
        (hxx, hxy), (hyx, hyy) = hessian(f)(p)
        det = hxx * hyy - hxy * hyx
        p = (p[0] - (hyy * gx - hxy * gy) / det, p[1] - (hxx * gy - hyx * gx) / det)
    return p


@case('ds_rosenbrock_nested_newton', '[DS] nested minimisation of Rosenbrock', 2.5, tol=1e-7)
def _():
    """L(a) = |argmin_p rosenbrock_a(p) − (1, 2)|², rosenbrock_a(x, y) = (a − x)² + 100(y − x²)².
    The minimiser is (a, a²), so L = (a − 1)² + (a² − 2)², L'(a) = 2(a − 1) + 4a(a² − 2);
    at a = 1.5: 1 + 6 · 0.25 = 2.5.  The outer diff goes through 25 inner Newton steps,
    each a grad and a (forward-over-reverse) hessian of a closure over a."""
    def L(a):
        x, y = _rosenbrock_argmin(a)
        return (x - 1.0) ** 2 + (y - 2.0) ** 2
    return diff(L)(1.5)


# ------------------------------------------------------- values that escape an operator
@case('escape_reverse_value_used_in_forward', '[PYAD] invariant 1 (dead tags are constants)', 24.0)
def _():
    """grad(x ↦ x³)(2) stashes x² = 4 (a tape value of a now-dead tag).
    Later d/dy (4 y²) at 3 = 8 · 3 = 24: the stash is a constant."""
    stash = []

    def f(x):
        stash.append(x * x)
        return x * x * x
    grad(f)(2.0)
    return diff(lambda y: stash[0] * y * y)(3.0)


@case('escape_forward_value_used_in_reverse', '[PYAD] invariant 1', 24.0)
def _():
    """diff(x ↦ x³)(2) stashes x² = 4 (a dual of a dead tag); grad(y ↦ 4y²)(3) = 24."""
    stash = []

    def f(x):
        stash.append(x * x)
        return x * x * x
    diff(f)(2.0)
    return grad(lambda y: stash[0] * y * y)(3.0)


@case('escape_closure_used_later', '[PYAD] invariant 1 (an escaped closure)', 12.0)
def _():
    """Inside grad at x = 2, store the closure y ↦ x·y; later d/dy (x·y·y) at 3 with the dead
    x = 2 a constant: 2 · 2y = 4y = 12."""
    stash = []

    def f(x):
        stash.append(lambda y: x * y)
        return x * x
    grad(f)(2.0)
    return diff(lambda y: stash[0](y) * y)(3.0)


@case('escape_into_second_derivative', '[PYAD] invariant 1', 8.0)
def _():
    """A value stashed during diff at x = 2 (x² = 4), used in d²/dy² (4y²) = 8."""
    stash = []
    diff(lambda x: stash.append(x * x) or x)(2.0)
    return diff2(lambda y: stash[0] * y * y)(5.0)


@case('dead_tag_mixed_with_live', '[PYAD] tag retirement', 12.0)
def _():
    """outer(x) = D(y ↦ x·y)(3) · s with s = x·3 stashed inside the inner call (its inner tag
    is dead when it is used, its outer one live): x · 3x = 3x²; d/dx at 2: 12."""
    def outer(x):
        stash = []

        def inner(y):
            stash.append(x * y)
            return x * y
        return diff(inner)(3.0) * stash[0]
    return diff(outer)(2.0)


@case('dead_tag_mixed_with_live_reverse', '[PYAD] tag retirement, reverse', 12.0)
def _():
    """As dead_tag_mixed_with_live, with grad both inside and outside: 12."""
    def outer(x):
        stash = []

        def inner(y):
            stash.append(x * y)
            return x * y
        return grad(inner)(3.0) * stash[0]
    return grad(outer)(2.0)


@case('vjp_pullback_differentiated_in_cotangent', '[PYAD] a pullback is itself differentiable', 24.0)
def _():
    """pullback = vjp(y ↦ y², 3)[1] is u ↦ 6u; d/du (pullback(u) · u) = 12u; at 2: 24."""
    _, pullback = _ops.vjp(lambda y: y * y, 3.0)
    return grad(lambda u: pullback(u) * u)(2.0)


@case('escaped_pullback_of_dead_outer_tag', '[PYAD] invariant 1 for pullbacks', 12.0)
def _():
    """Inside grad at x = 3, keep the pullback of y ↦ x y² at y = 2 (u ↦ 4xu, closing over
    the traced x).  Called later, x is the constant 3: d/du (12u) = 12."""
    kept = []

    def f(x):
        kept.append(_ops.vjp(lambda y: x * y * y, 2.0)[1])
        return x * x
    grad(f)(3.0)
    return diff(lambda u: kept[0](u))(1.0)


# --------------------------------------------------------------- loops and recursion
@case('nested_in_loop', '[SP08] (derivative inside a loop)', 6.0)
def _():
    """f(x) = Σ_{k=1..3} d/dy (x y^k)|_{y=1} = Σ k x = 6x; f' = 6."""
    def f(x):
        total = 0.0
        for k in range(1, 4):
            total = total + diff(lambda y: x * y ** k)(1.0)
        return total
    return diff(f)(4.0)


@case('nested_in_recursion', '[SP08] (derivative inside recursion)', 32.0)
def _():
    """g(x, 0) = x, g(x, n) = d/dy (y² · g(x, n − 1))|_{y=x} = 2x · g(x, n − 1),
    so g(x, n) = 2ⁿ xⁿ⁺¹; g(x, 3) = 8x⁴; d/dx at 1: 32."""
    def g(x, n):
        if n == 0:
            return x
        return diff(lambda y: y * y * g(x, n - 1))(x)
    return diff(lambda x: g(x, 3))(1.0)


@case('recursive_nth_derivative', '[DS] (D applied recursively)', 120.0)
def _():
    """d⁴/dx⁴ x⁵ = 120x; at 1: 120, by D(D(D(D f))) built by recursion, alternating modes."""
    def nth(f, n):
        return f if n == 0 else nth((diff if n % 2 else grad)(f), n - 1)
    return nth(lambda x: x ** 5, 4)(1.0)


# ------------------------------------------ second-order operators over inner gradients
@case('hessian_of_inner_grad', '[PYAD] hessian of a function calling grad of a closure',
      _onp.diag([18.0, 36.0]))
def _():
    """f(x) = Σ_i ∂/∂y_i [Σ x·y³]|_{y=x} = Σ 3x_i · x_i² = 3 Σ x_i³; ∇²f = diag(18 x_i)."""
    f = lambda x: pnp.sum(grad(lambda y: pnp.sum(x * y ** 3))(x))
    return hessian(f)(_onp.array([1.0, 2.0]))


@case('hessianv_of_inner_grad', '[PYAD] hessianv of a function calling grad of a closure',
      _onp.array([18.0, -36.0]))
def _():
    """As hessian_of_inner_grad, ∇²f v with v = (1, −1): (18, −36)."""
    f = lambda x: pnp.sum(grad(lambda y: pnp.sum(x * y ** 3))(x))
    return hessianv(f)(_onp.array([1.0, 2.0]), _onp.array([1.0, -1.0]))


@case('jacobian_of_inner_grad', '[PYAD] jacobian of a function returning grad of a closure',
      _onp.array([[2.0, 1.0], [2.0, 8.0]]))
def _():
    """g(x) = ∇_y φ(x, y)|_{y=x}, φ = x0 y0 y1 + x1 y1²:
    g0 = x0 y1 → x0 x1, g1 = x0 y0 + 2 x1 y1 → x0² + 2x1².
    J = [[x1, x0], [2x0, 4x1]]; at (1, 2): [[2, 1], [2, 8]] (not symmetric)."""
    phi = lambda x: (lambda y: x[0] * y[0] * y[1] + x[1] * y[1] * y[1])
    return jacobian(lambda x: grad(phi(x))(x))(_onp.array([1.0, 2.0]))


@case('grad_of_inner_laplacian', '[PYAD] reverse over (forward over reverse)',
      _onp.array([2.0, 2.0, 2.0]))
def _():
    """f(x) = Δ_y Σ x·y²  (at y = x) = Σ 2x_i; ∇f = (2, 2, 2)."""
    return grad(lambda x: laplacian(lambda y: pnp.sum(x * y * y))(x))(_onp.array([1.0, -2.0, 0.5]))


@case('batched_jacobian_of_batched_jacobian', '[PYAD] batched tangents at two live tags at once',
      _onp.diag([2.0, -4.0, 8.0]))
def _():
    """jacfwd(x ↦ rowsums of jacrev(y ↦ y ⊙ y ⊙ x)(x))(x).
    The inner Jacobian is diag(2 y ⊙ x); at y = x its row sums are 2x², whose Jacobian is
    diag(4x); at x = (0.5, −1, 2): diag(2, −4, 8).  Both levels push a whole batch of
    directions (tangents of shape (3,) + x.shape) at the same time."""
    x = _onp.array([0.5, -1.0, 2.0])
    inner = lambda x: pnp.sum(_ops.jacrev(lambda y: y * y * x)(x), axis=1)
    return _ops.jacfwd(inner)(x)


@case('batched_hessian_of_inner_jacobian', '[PYAD] hessian (batched forward over reverse) of jacfwd',
      4.0 * _onp.eye(3))
def _():
    """f(x) = Σ jacfwd(y ↦ y ⊙ y ⊙ x)(x) = Σ 2x²; ∇²f = 4I."""
    x = _onp.array([0.5, -1.0, 2.0])
    return hessian(lambda x: pnp.sum(_ops.jacfwd(lambda y: y * y * x)(x)))(x)


@case('pytree_closure', '[PYAD] nested derivative over a dict of parameters', {'a': 8.0, 'b': 2.0})
def _():
    """f(p) = a · d/dt (b t²)|_{t=a} = a · 2ba = 2a²b; ∂f/∂a = 4ab = 8, ∂f/∂b = 2a² = 2
    at a = 1, b = 2."""
    return grad(lambda p: p['a'] * diff(lambda t: p['b'] * t * t)(p['a']))({'a': 1.0, 'b': 2.0})


@case('jvp_inside_vjp', '[PYAD] jacobianTv of a function built from jacobianv of a closure',
      _onp.array([4.0, 6.0]))
def _():
    """g(x) = J_y(y ↦ x ⊙ y²)(x) · (1, 1) = 2 x ⊙ x = 2x²; (∂g/∂x)ᵀ u = 4x ⊙ u, with
    u = (1, 1) at x = (1, 1.5): (4, 6)."""
    g = lambda x: jacobianv(lambda y: x * y * y)(x, _onp.ones(2))
    return jacobianTv(g)(_onp.array([1.0, 1.5]), _onp.ones(2))


# ------------------------------------------------------------------------- running
def _as_array(tree):
    leaves, _ = tree_flatten(tree)
    return [_onp.asarray(innermost(leaf), dtype=_onp.float64) for leaf in leaves]


def check(c):
    """(ok, got) for one case; an exception counts as a failure and is returned as got."""
    try:
        got = c.compute()
    except Exception as exc:          # a crash is a failed case, reported in the table
        return False, exc
    got_leaves, want_leaves = _as_array(got), _as_array(c.expected)
    if tree_flatten(got)[1] != tree_flatten(c.expected)[1] or len(got_leaves) != len(want_leaves):
        return False, got
    ok = all(g.shape == w.shape and _onp.allclose(g, w, rtol=c.tol, atol=c.tol)
             for g, w in zip(got_leaves, want_leaves))
    return ok, got


def _show(value):
    if isinstance(value, Exception):
        return f'{type(value).__name__}: {value}'[:60]
    leaves = _as_array(value)
    if len(leaves) == 1 and leaves[0].shape == ():
        return f'{float(leaves[0]):.12g}'
    return ' '.join(_onp.array2string(l.ravel(), precision=6, separator=',') for l in leaves)


def run(verbose=True):
    """Run every case; print a table when ``verbose``; return True when all pass."""
    results = [(c, *check(c)) for c in CASES]
    if verbose:
        width = max(len(c.name) for c in CASES)
        print(f'{"case":<{width}}  {"expected":>22}  {"got":>22}  ok')
        for c, ok, got in results:
            print(f'{c.name:<{width}}  {_show(c.expected):>22}  {_show(got):>22}  '
                  f'{"ok" if ok else "FAIL"}')
        failed = [c.name for c, ok, _ in results if not ok]
        print(f'\n{len(results) - len(failed)} of {len(results)} cases pass'
              + (f'; failed: {", ".join(failed)}' if failed else ''))
    return all(ok for _, ok, _ in results)


if __name__ == '__main__':
    sys.exit(0 if run() else 1)
