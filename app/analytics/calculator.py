"""A safe calculator for ad-hoc arithmetic and what-ifs, without `eval`.

The input is parsed with Python's `ast` and evaluated by a small interpreter that knows only numbers,
variables, `+ - * / // ^ **`, parentheses and a fixed set of functions; anything else (attributes,
subscripts, strings, comprehensions, lambdas, names not defined) is rejected with a message saying
what is allowed. Business notation is accepted: thousands separators (`1,200,000`), currency signs
(`$49`), percentages (`15%` = 0.15, `15% of 2.5k`), suffixes (`2.5k`, `1.2M`, `3bn`), `×` and `÷`, and `^`
for powers; a date ("2026-03-15", "03/2026") is rejected as one. Several statements can be separated by
`;` or new lines, and `name = expression` defines a variable for the following ones (what-ifs:
`price = 49; seats = 25; price * seats * 12`).

Limits keep every input cheap: 500 characters, 250 levels of nesting, exponents up to 1,000 in
magnitude, and all arithmetic in floating point with an overflow check, so `9**9**9` is an error,
not a hang.

Note: a comma followed by exactly three digits is a thousands separator, so write function
arguments with a space after the comma (`max(1, 200)`); `%` always means percent (use `mod(a, b)`
for a remainder).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_EXPRESSION_CHARS = 500
"""Longest accepted input."""
MAX_DEPTH = 250
"""Deepest accepted nesting of operations."""
MAX_EXPONENT = 1000
"""Largest accepted exponent magnitude."""
MAX_ARGS = 100
"""Most arguments to one function call."""

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
"""Names always defined."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)$", re.DOTALL)
_THOUSANDS = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+)(?![\d,])")
_SUFFIX = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)(k|K|M|mn|bn|B)\b")
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+)\s*%")
_SUFFIX_FACTORS = {"k": "1e3", "K": "1e3", "M": "1e6", "mn": "1e6", "bn": "1e9", "B": "1e9"}
_PERCENT_OF = re.compile(r"%\s*of\b", re.IGNORECASE)
_DATE = re.compile(r"(?<![\w.])(?:\d{4}-\d{2}-\d{2}|\d{4}-0\d|0\d/\d{4})(?![\w.])")
"""A date ("2026-03-15", "2026-03", "03/2026"): digits and hyphens that are not arithmetic."""


class CalculatorError(ValueError):
    """The expression is not valid or cannot be computed; the message says why."""


def _check_finite(value: float) -> float:
    """Reject overflow and undefined results."""
    if math.isnan(value):
        raise CalculatorError("the result is undefined (not a number)")
    if math.isinf(value):
        raise CalculatorError("the result is too large")
    return value


def _power(base: float, exponent: float) -> float:
    """`base ** exponent` with limits on the exponent and overflow checks."""
    if abs(exponent) > MAX_EXPONENT:
        raise CalculatorError(f"exponent {exponent:g} is too large (limit {MAX_EXPONENT:,})")
    if base == 0 and exponent < 0:
        raise CalculatorError("division by zero (0 to a negative power)")
    if base < 0 and not float(exponent).is_integer():
        raise CalculatorError("a negative number to a fractional power is not a real number")
    try:
        return _check_finite(math.pow(base, exponent))
    except OverflowError as exc:
        raise CalculatorError("the result is too large") from exc


def _divide(a: float, b: float) -> float:
    """`a / b` with a clear error for zero."""
    if b == 0:
        raise CalculatorError("division by zero")
    return _check_finite(a / b)


def _floor_divide(a: float, b: float) -> float:
    """`a // b` with a clear error for zero."""
    if b == 0:
        raise CalculatorError("division by zero")
    return _check_finite(math.floor(a / b))


def _mod(a: float, b: float) -> float:
    """Remainder of a / b (sign of b, as in Python)."""
    if b == 0:
        raise CalculatorError("mod by zero")
    return _check_finite(a - b * math.floor(a / b))


def _sqrt(x: float) -> float:
    """Square root of a non-negative number."""
    if x < 0:
        raise CalculatorError("sqrt of a negative number")
    return math.sqrt(x)


def _log(x: float, base: float | None = None) -> float:
    """Natural logarithm, or logarithm in `base`."""
    if x <= 0:
        raise CalculatorError("log of zero or a negative number")
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise CalculatorError("log base must be positive and not 1")
    return math.log(x) / math.log(base)


def _log10(x: float) -> float:
    """Base-10 logarithm."""
    return _log(x, 10.0)


def _exp(x: float) -> float:
    """The exponential function, e to the power x."""
    return _power(math.e, x)


def _round(x: float, digits: float = 0) -> float:
    """Round half to even to `digits` decimals (-15..15)."""
    if not float(digits).is_integer() or not -15 <= digits <= 15:
        raise CalculatorError("round() digits must be a whole number between -15 and 15")
    return float(round(x, int(digits)))


def _min(*values: float) -> float:
    """Smallest argument."""
    return min(values)


def _max(*values: float) -> float:
    """Largest argument."""
    return max(values)


def _floor(x: float) -> float:
    """Largest whole number not above x."""
    return float(math.floor(x))


def _ceil(x: float) -> float:
    """Smallest whole number not below x."""
    return float(math.ceil(x))


# name -> (function, fewest arguments, most arguments)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    "round": (_round, 1, 2),
    "min": (_min, 1, MAX_ARGS),
    "max": (_max, 1, MAX_ARGS),
    "abs": (abs, 1, 1),
    "sqrt": (_sqrt, 1, 1),
    "log": (_log, 1, 2),
    "log10": (_log10, 1, 1),
    "exp": (_exp, 1, 1),
    "floor": (_floor, 1, 1),
    "ceil": (_ceil, 1, 1),
    "mod": (_mod, 2, 2),
}
"""Functions callable from expressions: name -> (implementation, fewest args, most args)."""

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: _check_finite(a + b),
    ast.Sub: lambda a, b: _check_finite(a - b),
    ast.Mult: lambda a, b: _check_finite(a * b),
    ast.Div: _divide,
    ast.FloorDiv: _floor_divide,
    ast.Pow: _power,
}
_ALLOWED_HELP = "numbers, variables, + - * / // ^ (power), %, parentheses and " + ", ".join(sorted(FUNCTIONS))


def normalize(text: str) -> str:
    """Rewrite business notation into plain arithmetic.

    Removes currency signs and thousands separators, turns `15%` into `(15/100)`, `15% of x` into
    `(15/100) * x`, `2.5k` into `(2.5*1e3)`, `×` and `÷` into `*` and `/`, and `^` into `**`.

    Args:
        text: One statement.

    Returns:
        The rewritten statement.

    Raises:
        CalculatorError: if a `%` does not follow a number, or the text holds a date.
    """
    if date := _DATE.search(text):
        raise CalculatorError(f"{date.group(0)!r} is a date, not a number: the calculator takes arithmetic")
    out = re.sub(r"[$€£]", "", text)
    out = _PERCENT_OF.sub("% *", out).replace("×", "*").replace("÷", "/")
    out = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), out)
    out = _SUFFIX.sub(lambda m: f"({m.group(1)}*{_SUFFIX_FACTORS[m.group(2)]})", out)
    out = _PERCENT.sub(lambda m: f"({m.group(1)}/100)", out)
    if "%" in out:
        raise CalculatorError("'%' means percent and must follow a number, e.g. 15%; use mod(a, b) for a remainder")
    return out.replace("^", "**")


class _Evaluator:
    """Walks a parsed expression, allowing only whitelisted nodes."""

    def __init__(self, names: Mapping[str, float]) -> None:
        self.names = names

    def run(self, node: ast.AST, depth: int = 0) -> float:
        """Evaluate one node."""
        if depth > MAX_DEPTH:
            raise CalculatorError(f"the expression is nested too deeply (limit {MAX_DEPTH})")
        if isinstance(node, ast.Expression):
            return self.run(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CalculatorError(f"only numbers are allowed, not {type(value).__name__} {value!r}")
            try:
                return _check_finite(float(value))
            except OverflowError as exc:
                raise CalculatorError("a number in the expression is too large") from exc
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if node.id in FUNCTIONS:
                raise CalculatorError(f"{node.id} is a function: call it like {node.id}(x)")
            known = ", ".join(sorted(self.names)) or "none"
            raise CalculatorError(f"unknown name {node.id!r} (defined: {known})")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            operand = self.run(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left = self.run(node.left, depth + 1)
            right = self.run(node.right, depth + 1)
            try:
                return _BINARY[type(node.op)](left, right)
            except (OverflowError, ValueError) as exc:
                if isinstance(exc, CalculatorError):
                    raise
                raise CalculatorError("the result is too large") from exc
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise CalculatorError(f"{type(node).__name__} is not allowed; use {_ALLOWED_HELP}")

    def _call(self, node: ast.Call, depth: int) -> float:
        """Evaluate a call to a whitelisted function with positional arguments."""
        if not isinstance(node.func, ast.Name):
            raise CalculatorError(
                f"only the built-in functions can be called ({', '.join(sorted(FUNCTIONS))}); "
                "attribute access is not allowed"
            )
        if node.func.id not in FUNCTIONS:
            raise CalculatorError(f"unknown function {node.func.id!r}; available: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise CalculatorError(f"{node.func.id}() takes plain positional arguments only")
        function, fewest, most = FUNCTIONS[node.func.id]
        if not fewest <= len(node.args) <= most:
            expected = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise CalculatorError(f"{node.func.id}() takes {expected} argument(s), got {len(node.args)}")
        args = [self.run(arg, depth + 1) for arg in node.args]
        try:
            return _check_finite(float(function(*args)))
        except (OverflowError, ValueError) as exc:
            if isinstance(exc, CalculatorError):
                raise
            raise CalculatorError(f"{node.func.id}() result is too large") from exc


def _parse(expression: str) -> ast.Expression:
    """Parse one normalised expression."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"not a valid expression: {exc.msg}") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise CalculatorError("the expression is too complex") from exc
    return tree


def format_number(value: float) -> str:
    """Format a result for people: thousands separators, at most 6 decimals, no trailing zeros.

    Args:
        value: The number.

    Returns:
        E.g. `1,234,567`, `0.15`, `1.2e+20`.
    """
    if abs(value) >= 1e15 or (value != 0 and abs(value) < 1e-6):
        return f"{value:.6g}"
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class CalculationResult:
    """The value of an expression and how it was computed.

    Attributes:
        expression: The input as given.
        value: The result of the last statement.
        formatted: `value` formatted for people.
        steps: Each statement as evaluated, e.g. `seats = 25` or `price * seats = 1,225`.
        variables: Variables defined by the input's assignments.
    """

    expression: str
    value: float
    formatted: str
    steps: list[str] = field(default_factory=list)
    variables: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "expression": self.expression,
            "value": self.value,
            "formatted": self.formatted,
            "steps": self.steps,
            "variables": self.variables,
        }


def calculate(expression: str, variables: Mapping[str, float] | None = None) -> CalculationResult:
    """Evaluate an expression (or `;`-separated statements with assignments) safely.

    Args:
        expression: E.g. `1,200 * 15% + $300` or `price = 49; seats = 25; price * seats * 12`.
        variables: Predefined variables, e.g. `{"cac": 412.5}`.

    Returns:
        The value of the last statement with the steps.

    Raises:
        CalculatorError: for anything that is not allowed or cannot be computed, with the reason.
    """
    if not isinstance(expression, str):
        raise CalculatorError("the expression must be text")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"the expression is {len(expression):,} characters; the limit is {MAX_EXPRESSION_CHARS}")
    names: dict[str, float] = dict(CONSTANTS)
    for name, value in (variables or {}).items():
        if not isinstance(name, str) or not _NAME.match(name) or name in FUNCTIONS:
            raise CalculatorError(f"invalid variable name {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise CalculatorError(f"variable {name!r} must be a finite number")
        names[name] = float(value)
    statements = [s for s in re.split(r"[;\n]", expression) if s.strip()]
    if not statements:
        raise CalculatorError("the expression is empty")
    evaluator = _Evaluator(names)
    defined: dict[str, float] = {}
    steps: list[str] = []
    value = 0.0
    for statement in statements:
        match = _ASSIGNMENT.match(statement)
        target, body = (match.group(1), match.group(2)) if match else (None, statement)
        if target is not None and (target in FUNCTIONS or target in CONSTANTS):
            raise CalculatorError(f"{target!r} is a built-in name and cannot be assigned")
        if not body.strip():
            raise CalculatorError(f"nothing to compute in {statement.strip()!r}")
        try:
            tree = _parse(normalize(body))
        except CalculatorError as exc:
            if "%" in body and "percent" not in str(exc):
                raise CalculatorError(
                    f"{exc}; note '%' means percent (15% = 0.15), use mod(a, b) for a remainder"
                ) from exc
            raise
        value = evaluator.run(tree)
        shown = body.strip()
        computed = shown if shown == format_number(value) else f"{shown} = {format_number(value)}"
        if target is not None:
            names[target] = value
            defined[target] = value
            steps.append(f"{target} = {computed}")
        else:
            steps.append(computed)
    return CalculationResult(
        expression=expression,
        value=value,
        formatted=format_number(value),
        steps=steps,
        variables=defined,
    )


def evaluate(expression: str, variables: Mapping[str, float] | None = None) -> float:
    """The value of `calculate(expression, variables)`.

    Args:
        expression: The expression.
        variables: Predefined variables.

    Returns:
        The result.

    Raises:
        CalculatorError: as `calculate`.
    """
    return calculate(expression, variables).value
