from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.analytics.calculator import MAX_EXPRESSION_CHARS, CalculatorError, calculate, evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("2^10", 1024.0),
        ("2**-1", 0.5),
        ("-3 ** 2", -9.0),
        ("7 // 2", 3.0),
        ("1,200 * 15%", 180.0),
        ("$1,234,567.50 + $0.50", 1234568.0),
        ("12.5% * 80", 10.0),
        ("2.5k + 1.5M", 1502500.0),
        ("3bn / 1,000", 3_000_000.0),
        ("round(2.675, 2)", 2.67),
        ("round(1234.5678, -2)", 1200.0),
        ("min(3, 1, 2) + max(4, 5)", 6.0),
        ("abs(-4.5)", 4.5),
        ("sqrt(16)", 4.0),
        ("log(e)", 1.0),
        ("log(1000, 10)", 3.0),
        ("log10(100)", 2.0),
        ("floor(2.7) + ceil(2.1)", 5.0),
        ("mod(-7, 3)", 2.0),
        ("max(1, 200)", 200.0),
        ("pi", math.pi),
    ],
)
def test_exact_results(expression, expected):
    assert evaluate(expression) == pytest.approx(expected, rel=1e-12)


def test_what_if_with_variables_and_steps():
    result = calculate("seats = 25; price = $49\nmrr = price * seats; mrr * 12 * (1 - 10%)", {"discount": 0.1})
    assert result.value == pytest.approx(13230.0)
    assert result.formatted == "13,230"
    assert result.variables == {"seats": 25.0, "price": 49.0, "mrr": 1225.0}
    assert result.steps == [
        "seats = 25",
        "price = $49 = 49",
        "mrr = price * seats = 1,225",
        "mrr * 12 * (1 - 10%) = 13,230",
    ]
    assert evaluate("cac * 3", {"cac": 412.5}) == 1237.5


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9**9**9", "exponent"),
        ("10 ** 400", "too large"),
        ("1e308 * 10", "too large"),
        ("exp(1000)", "too large"),
        ("1 / 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("(-8) ** 0.5", "not a real number"),
        ("sqrt(-1)", "negative"),
        ("log(0)", "log of zero"),
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('true')", "attribute access is not allowed"),
        ("(1).real", "Attribute is not allowed"),
        ("[1, 2][0]", "not allowed"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("lambda: 1", "Lambda is not allowed"),
        ("[x for x in (1, 2)]", "not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("sqrt", "is a function"),
        ("round(1, 2, 3)", "takes 1 to 2"),
        ("max(*[1, 2])", "positional"),
        ("10 % 3", "percent"),
        ("(1 + 2)%", "percent"),
        ("", "empty"),
        ("sqrt = 4", "built-in"),
        ("1 +", "not a valid expression"),
        ("-" * 300 + "1", "nested too deeply"),
        ("1" * (MAX_EXPRESSION_CHARS + 1), "limit"),
    ],
)
def test_errors_are_clear(expression, message):
    with pytest.raises(CalculatorError, match=message):
        calculate(expression)


def test_long_sums_are_fine():
    assert evaluate("+".join(["1"] * 200)) == 200.0


def test_predefined_variables_are_validated():
    with pytest.raises(CalculatorError, match="invalid variable name"):
        calculate("1", {"not valid": 1.0})
    with pytest.raises(CalculatorError, match="finite number"):
        calculate("1", {"x": float("nan")})


FUZZ_ALPHABET = st.sampled_from(
    list("0123456789.,+-*/%^()$ eE_kMbnx")
    + ["**", "//", "sqrt(", "log(", "max(", "round(", "9**9", ";", "a=", "=", "[", "]", "'", "lambda", "__", ".real"]
)


@settings(max_examples=400, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FUZZ_ALPHABET, max_size=60).map("".join))
def test_fuzz_calculator_tokens_never_raise_anything_else(expression):
    try:
        value = evaluate(expression)
    except CalculatorError:
        return
    assert math.isfinite(value)


@settings(max_examples=300, deadline=500)
@given(st.text(max_size=120))
def test_fuzz_arbitrary_text_never_raises_anything_else(expression):
    try:
        value = evaluate(expression)
    except CalculatorError:
        return
    assert math.isfinite(value)


def integer_expressions(depth: int = 3) -> st.SearchStrategy[tuple[str, Fraction]]:
    leaf = st.integers(min_value=0, max_value=999).map(lambda n: (str(n), Fraction(n)))

    def extend(children):
        def combine(left, op, right):
            (ls, lv), (rs, rv) = left, right
            value = {"+": lv + rv, "-": lv - rv, "*": lv * rv}[op]
            return (f"({ls} {op} {rs})", value)

        return st.builds(combine, children, st.sampled_from(["+", "-", "*"]), children)

    return st.recursive(leaf, extend, max_leaves=8)


@settings(max_examples=200, deadline=500)
@given(integer_expressions())
def test_integer_arithmetic_is_exact(case):
    expression, value = case
    assert evaluate(expression) == float(value)
