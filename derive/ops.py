"""Every activation and loss operation in one place: its value, derivative, TeX, NumPy and
JavaScript code.

Each is a SymPy Function (or matrix expression) whose derivative SymPy finds through `fdiff`;
`_latex` is how the pages write it, `_numpycode` and `_javascript` how the generated code
computes it (derive's printers look those methods up first, as SymPy's printers do for their own
print methods; the JavaScript calls the page's runtime, templates/assets/derive-runtime.js).

SymPy's own `Max(0, x)` differentiates to `Heaviside(x)`, which is 1/2 at 0 and loses its second
argument inside element-wise matrix functions; `relu` here carries the convention derive uses
everywhere (and torch.relu does too): its slope at exactly 0 is 0.
"""

from __future__ import annotations

from functools import cache

import sympy
from sympy import Function, Rational

LEAKY_SLOPE = Rational(1, 100)
"""The default slope of leaky_relu below 0 (`[network] leaky_slope` sets another)."""


def _operator(name: str, printer, argument: sympy.Basic, exp: str | None = None) -> str:
    """`name(argument)` as TeX; raised to `exp` when SymPy prints a power of it."""
    text = rf"{name}\left({printer._print(argument)}\right)"
    return rf"{{{text}}}^{{{exp}}}" if exp else text


class _Operation(Function):
    """An element-wise operation printed as `tex(x)` on the pages."""

    tex = ""

    def _latex(self, printer, exp=None):
        return _operator(self.tex, printer, self.args[0], exp)


class _Slope(_Operation):
    """The derivative of a kink: 1 where x > 0, else `below` (also at exactly 0)."""

    below = sympy.S.Zero

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return sympy.S.One if x > 0 else cls.below

    def fdiff(self, argindex=1):
        return sympy.S.Zero


class _Kink(_Operation):
    """x where x > 0, else `below` times x; its derivative is `slope`.

    The slope below 0 is a class attribute, not a second argument: SymPy rebuilds an
    element-wise function's derivative from its type alone, dropping any other argument.
    """

    below = sympy.S.Zero
    slope: type[_Slope]

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return x if x > 0 else cls.below * x

    def fdiff(self, argindex=1):
        return self.slope(self.args[0])


class step(_Slope):
    """relu'(x): 1 where x > 0, else 0 (also at exactly 0)."""

    tex = r"\operatorname{step}"

    def _numpycode(self, printer):
        # A boolean array: exact when multiplied.
        return f"({printer._print(self.args[0])} > 0)"

    def _javascript(self, printer):
        return f"({printer._print(self.args[0])} > 0 ? 1 : 0)"


class relu(_Kink):
    """max(0, x), whose derivative is `step`."""

    tex = r"\operatorname{relu}"
    slope = step

    def _numpycode(self, printer):
        return f"{printer._module_format('numpy.maximum')}({printer._print(self.args[0])}, 0.0)"

    def _javascript(self, printer):
        return f"Math.max({printer._print(self.args[0])}, 0)"


class _LeakyStep(_Slope):
    tex = r"\operatorname{leaky\_step}"

    def _numpycode(self, printer):
        x = printer._print(self.args[0])
        return f"{printer._module_format('numpy.where')}({x} > 0, 1.0, {float(self.below)!r})"

    def _javascript(self, printer):
        return f"({printer._print(self.args[0])} > 0 ? 1 : {float(self.below)!r})"


class _LeakyRelu(_Kink):
    tex = r"\operatorname{leaky\_relu}"

    def _numpycode(self, printer):
        x = printer._print(self.args[0])
        return (f"{printer._module_format('numpy.where')}({x} > 0, {x}, "
                f"{float(self.below)!r}*{x})")

    def _javascript(self, printer):
        x = printer._print(self.args[0])
        return f"({x} > 0 ? {x} : {float(self.below)!r}*{x})"


@cache
def leaky(slope: sympy.Rational) -> tuple[type[_Kink], type[_Slope]]:
    """leaky_relu with the given slope below 0, and its derivative leaky_step."""
    derivative = type("leaky_step", (_LeakyStep,), {
        "below": slope, "__doc__": f"leaky_relu'(x): 1 where x > 0, else {slope}."})
    function = type("leaky_relu", (_LeakyRelu,), {
        "below": slope, "slope": derivative, "__doc__": f"x where x > 0, else {slope} x."})
    return function, derivative


leaky_relu, leaky_step = leaky(LEAKY_SLOPE)


def leaky_reduction(obj: object) -> tuple | None:
    """How pickle rebuilds a class `leaky` made (it has no importable name of its own), or None
    for any other object."""
    for kind, base in enumerate((_LeakyRelu, _LeakyStep)):
        if isinstance(obj, type) and issubclass(obj, base) and obj is not base:
            return _leaky_class, (obj.below, kind)
    return None


def _leaky_class(slope: sympy.Rational, kind: int) -> type:
    return leaky(slope)[kind]


class sigmoid(_Operation):
    """1 / (1 + e^-x), whose derivative SymPy writes as sigma(x) (1 - sigma(x)).

    sigma(-x) is written 1 - sigma(x), so expressions in both simplify against each other.
    """

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return 1 / (1 + sympy.exp(-x))
        if x.could_extract_minus_sign():
            return 1 - cls(-x)

    tex = r"\sigma"

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _numpycode(self, printer):
        return f"sigmoid({printer._print(self.args[0])})"

    def _javascript(self, printer):
        return f"{printer.runtime('sigmoid')}({printer._print(self.args[0])})"


class log_sigmoid(_Operation):
    """log sigma(x), computed from x: finite where sigma(x) rounds to 0 or 1 (the bce loss)."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return -sympy.log(1 + sympy.exp(-x))

    tex = r"\log \sigma"

    def fdiff(self, argindex=1):
        return 1 - sigmoid(self.args[0])

    def _numpycode(self, printer):
        # log sigma(x) = -log(1 + e^-x), which logaddexp computes without overflow.
        minus = printer._print(-self.args[0])
        return f"(-{printer._module_format('numpy.logaddexp')}(0.0, {minus}))"

    def _javascript(self, printer):
        return f"(-{printer.runtime('logAddExp')}(0, {printer._print(-self.args[0])}))"


ELEMENTWISE = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": sympy.tanh,
}
"""Element-wise activations by their name in example files (`spec.ACTIVATIONS` also has the
identity `linear` and the column-wise `softmax`)."""


def elementwise(name: str, x: sympy.Basic,
                leaky_slope: sympy.Rational = LEAKY_SLOPE) -> sympy.Basic:
    """The activation `name` applied to x; leaky_relu leaks with `leaky_slope` below 0."""
    if name == "leaky_relu":
        return leaky(leaky_slope)[0](x)
    return ELEMENTWISE[name](x)


class _ColumnWise(sympy.MatrixExpr):
    """A function of each column of a matrix through its exponentials (softmax, log softmax)."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    @staticmethod
    def of(entry: sympy.Basic, total: sympy.Basic) -> sympy.Basic:
        """One entry, given the sum of its column's exponentials."""
        raise NotImplementedError

    def _entry(self, i, j, **kwargs):
        k = sympy.Dummy("k", integer=True)
        return self.of(self.arg[i, j], sympy.Sum(sympy.exp(self.arg[k, j]), (k, 0, self.rows - 1)))

    def doit(self, **hints):
        arg = self.arg.doit(**hints)
        if not isinstance(arg, sympy.MatrixBase):
            return type(self)(arg)
        totals = [sum(sympy.exp(v) for v in arg.col(j)) for j in range(arg.cols)]
        return sympy.ImmutableMatrix(*arg.shape, lambda i, j: self.of(arg[i, j], totals[j]))


class Softmax(_ColumnWise):
    """Column-wise softmax of a matrix expression (the output layer of a classifier)."""

    @staticmethod
    def of(entry, total):
        return sympy.exp(entry) / total

    def _latex(self, printer):
        return _operator(r"\operatorname{softmax}", printer, self.arg)

    def _numpycode(self, printer):
        return f"softmax({printer._print(self.arg)})"

    def _javascript(self, printer):
        return f"{printer.runtime('softmax')}({printer._print(self.arg)})"


class LogSoftmax(_ColumnWise):
    """Column-wise log softmax, S - log-sum-exp of each column: finite for any logits."""

    @staticmethod
    def of(entry, total):
        return entry - sympy.log(total)

    def _latex(self, printer):
        return _operator(r"\log \operatorname{softmax}", printer, self.arg)

    def _numpycode(self, printer):
        return f"log_softmax({printer._print(self.arg)})"

    def _javascript(self, printer):
        return f"{printer.runtime('logSoftmax')}({printer._print(self.arg)})"
