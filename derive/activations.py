"""Activation functions as SymPy Functions whose derivatives SymPy finds through `fdiff`.

SymPy's own `Max(0, x)` differentiates to `Heaviside(x)`, which is 1/2 at 0 and loses its
second argument inside element-wise matrix functions. These Functions carry the convention
derive uses everywhere (and torch.relu uses too): the slope of relu at exactly 0 is 0.
"""

from __future__ import annotations

import sympy
from sympy import Function, Rational

LEAKY_SLOPE = Rational(1, 100)


class step(Function):
    """relu'(x): 1 where x > 0, else 0 (also at exactly 0)."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return sympy.S.One if x > 0 else sympy.S.Zero

    def fdiff(self, argindex=1):
        return sympy.S.Zero

    def _latex(self, printer):
        return rf"\operatorname{{step}}\left({printer._print(self.args[0])}\right)"


class relu(Function):
    """max(0, x), whose derivative is `step`."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return x if x > 0 else sympy.S.Zero

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _latex(self, printer):
        return rf"\operatorname{{relu}}\left({printer._print(self.args[0])}\right)"


class leaky_step(Function):
    """leaky_relu'(x): 1 where x > 0, else the leak slope (also at exactly 0)."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return sympy.S.One if x > 0 else LEAKY_SLOPE

    def fdiff(self, argindex=1):
        return sympy.S.Zero

    def _latex(self, printer):
        return rf"\operatorname{{leaky\_step}}\left({printer._print(self.args[0])}\right)"


class leaky_relu(Function):
    """x where x > 0, else 0.01 x; its derivative is `leaky_step`."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return x if x > 0 else LEAKY_SLOPE * x

    def fdiff(self, argindex=1):
        return leaky_step(self.args[0])

    def _latex(self, printer):
        return rf"\operatorname{{leaky\_relu}}\left({printer._print(self.args[0])}\right)"


class sigmoid(Function):
    """1 / (1 + e^-x), whose derivative SymPy writes as sigma(x) (1 - sigma(x))."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return 1 / (1 + sympy.exp(-x))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _latex(self, printer):
        return rf"\sigma\left({printer._print(self.args[0])}\right)"


ELEMENTWISE = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": sympy.tanh,
}
"""Element-wise activations by their name in example files (`spec.ACTIVATIONS` also has the
identity `linear` and the column-wise `softmax`)."""

