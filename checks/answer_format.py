"""Public answer formats of Problems 2-4: safe parsers for the answers.toml strings, without any reference
answer. Both editions read answers through this module, so an answer that parses in the student edition is
read the same way by the instructor's judges (checks/unrolled_state.py, checks/alexnet_sync.py,
checks/fc_complexity.py), which add the comparison with the reference.

* Problem 2 (`parse_state_expression`): a small recursive-descent parser for the only grammar an answer needs,

      expr := FNAME "(" expr "," expr ")" | VAR
      FNAME := F or f, optionally subscripted theta: F_theta, F_\\theta, F_{\\theta}, F_θ, Fθ
      VAR   := h<n> or x<n>, also h_0, x_{1}, \\mathbf{x}_1

  with spaces ignored, subscript digits (x₁) read as digits, \\left( / \\right) read as parentheses and an
  optional left-hand side ("G_3 = ..."). Anything else is refused with the position of the first offending
  character. The result is a sympy expression over the undefined function F and the symbols h0, h1, ...,
  x1, x2, ... Student text is never evaluated.
* Problem 3 (`read_stage_list`): a list of stage names of the two-column AlexNet, conv1..conv5 and fc6..fc8,
  compared after lower-casing and dropping spaces, '-' and '_'.
* Problem 4 (`parse_complexity`): strings in sympy syntax in d, n, L, c, possibly wrapped in O(...) /
  Theta(...). The text is tokenized and whitelisted first (names d, n, L, c, exp, log, ln, sqrt, Max, Min, O,
  Theta; runs of the letters d, n, L, c such as ``dn`` are read as products), and only then handed to
  ``parse_expr`` with empty builtins and a namespace holding nothing else. Numbers and numeric exponents are
  bounded so that no answer can make sympy compute a huge integer, and `expansion_size` bounds the degree and
  the number of terms an expansion would produce before a judge expands anything.

Every judge of student text (here and in the checks that use these parsers) runs under `ANSWER_TIME_S`
(`checks.time_limit`): an answer it cannot judge in that time scores 0 with a message, never stalls a grade.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sympy as sp

from checks.verdict import Verdict
from sympy.parsing.sympy_parser import (
    auto_number,
    auto_symbol,
    convert_xor,
    implicit_multiplication,
    parse_expr,
)

# ----------------------------------------------------------------------------------------------------------
# Problem 2: the unrolled state G_t
# ----------------------------------------------------------------------------------------------------------

F = sp.Function("F")  # F_theta, undefined: only the composition structure of an answer matters
H0 = sp.Symbol("h0")

MAX_LENGTH = 500  # characters; an honest G_3 needs about 30
MAX_DEPTH = 64  # nesting of F; keeps the recursion far from Python's limit

_STATE_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<open>\\left\(|\()
    | (?P<close>\\right\)|\))
    | (?P<comma>,)
    | (?P<func>[Ff](?:_?θ|_\\theta|_\{\\theta\}|_theta|_\{theta\})?(?=\s*(?:\\left)?\())
    | (?P<var>(?:\\mathbf\{(?P<bold>[hx])\}|\\boldsymbol\{(?P<bsym>[hx])\}|(?P<plain>[hx]))
              (?:_\{(?P<braced>\d{1,3})\}|_?(?P<index>\d{1,3})))
    """,
    re.VERBOSE,
)


_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


class StateParseError(ValueError):
    """The text is not an expression in F, h<n> and x<n>."""


@dataclass(frozen=True)
class _Token:
    kind: str  # open, close, comma, func, var
    text: str
    position: int  # 0-based offset in the parsed text
    symbol: sp.Symbol | None = None  # for var tokens


def _tokenize(text: str, start: int = 0) -> list[_Token]:
    """Tokens of text[start:]; positions count from the beginning of text."""
    tokens, position = [], start
    while position < len(text):
        match = _STATE_TOKEN.match(text, position)
        if match is None:
            raise StateParseError(f"unexpected {text[position]!r} at position {position + 1}")
        kind = match.lastgroup if match.lastgroup in ("space", "open", "close", "comma", "func") else "var"
        if kind == "var":
            letter = match["bold"] or match["bsym"] or match["plain"]
            index = int(match["braced"] or match["index"])
            tokens.append(_Token("var", match[0], position, sp.Symbol(f"{letter}{index}")))
        elif kind != "space":
            tokens.append(_Token(kind, match[0], position))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the token list; builds the sympy expression directly."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.i = tokens, 0

    def _expect(self, kind: str, what: str) -> _Token:
        if self.i >= len(self.tokens):
            raise StateParseError(f"expected {what} at the end of the text")
        token = self.tokens[self.i]
        if token.kind != kind:
            raise StateParseError(f"expected {what} at position {token.position + 1}, found {token.text!r}")
        self.i += 1
        return token

    def expr(self, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise StateParseError(f"nested deeper than {MAX_DEPTH} levels")
        if self.i < len(self.tokens) and self.tokens[self.i].kind == "func":
            self.i += 1
            self._expect("open", "'('")
            first = self.expr(depth + 1)
            self._expect("comma", "','")
            second = self.expr(depth + 1)
            self._expect("close", "')'")
            return F(first, second)
        return self._expect("var", "F(..., ...) or a variable such as h0 or x1").symbol

    def parse(self) -> sp.Expr:
        result = self.expr()
        if self.i != len(self.tokens):
            token = self.tokens[self.i]
            raise StateParseError(
                f"unexpected {token.text!r} at position {token.position + 1} after a complete expression"
            )
        return result


def parse_state_expression(text: str) -> sp.Expr:
    """The sympy expression for `text`, e.g. F(h0, x1) for "F_theta(h_0, x_1)"; raises StateParseError (a ValueError)."""
    if not isinstance(text, str):
        raise StateParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise StateParseError(f"{len(text)} characters, more than the {MAX_LENGTH} accepted")
    if "__" in text:
        raise StateParseError("'__' is not allowed")
    if text.count("=") > 1:
        raise StateParseError("more than one '='")
    start = text.index("=") + 1 if "=" in text else 0  # skip a left-hand side such as "G_3 ="
    if not text[start:].strip():
        raise StateParseError("empty expression")
    normalised = text.translate(_SUBSCRIPT_DIGITS)  # x₁ -> x1, one character for one: positions still match
    return _Parser(_tokenize(normalised, start)).parse()


# ----------------------------------------------------------------------------------------------------------
# Problem 3: synchronisation stages
# ----------------------------------------------------------------------------------------------------------

STAGE_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")  # the handout's stage names
MAX_STAGE_ENTRIES = 64  # entries of a stage list read (there are 8 stages)
SHOWN_ENTRY_CHARS = 40  # of an invalid entry quoted back


def normalise_stage(entry: Any) -> str | None:
    """'conv3' for ' Conv 3', 'FC-6' -> 'fc6'; None if entry is not a string."""
    if not isinstance(entry, str):
        return None
    return re.sub(r"[\s\-_]+", "", entry).lower()


@dataclass(frozen=True)
class StageList:
    named: tuple[str, ...]  # valid stage names, normalised, first occurrence order, each once
    invalid: tuple[str, ...]  # repr of every distinct entry that is not a stage name
    notes: tuple[str, ...]  # remarks that do not change the reading (string split, repeats)


def read_stage_list(answer: Any) -> StageList | None:
    """The stage names in `answer` (a list, tuple or set; a comma/semicolon-separated string is split and
    noted); None when it is no collection of entries at all. Raises ValueError for more than
    MAX_STAGE_ENTRIES entries (reading them is linear, but a list that long is no answer)."""
    notes: list[str] = []
    if isinstance(answer, str):  # "conv3, fc6, ..." as one string: read it, but say so
        answer = [part for part in re.split(r"[,;]", answer[: MAX_STAGE_ENTRIES * 20]) if part.strip()]
        notes.append("answer given as one string; split at commas/semicolons")
    if not isinstance(answer, (list, tuple, set, frozenset)):
        return None
    if len(answer) > MAX_STAGE_ENTRIES:
        raise ValueError(f"the list has {len(answer):,} entries; there are {len(STAGE_NAMES)} stages (at most "
                         f"{MAX_STAGE_ENTRIES} entries are read)")
    named: dict[str, None] = {}
    invalid: dict[str, None] = {}
    for entry in answer:
        name = normalise_stage(entry)
        if name in STAGE_NAMES:
            if name in named:
                notes.append(f"{name} listed more than once; counted once")
            named[name] = None
        else:
            shown = repr(entry) if len(repr(entry)) <= SHOWN_ENTRY_CHARS else repr(entry)[:SHOWN_ENTRY_CHARS] + "..."
            invalid[shown] = None
    return StageList(tuple(named), tuple(invalid), tuple(notes))


# ----------------------------------------------------------------------------------------------------------
# Problem 4: complexities in d, n, L, c
# ----------------------------------------------------------------------------------------------------------

# Positive integers; sympy symbols of the same name and assumptions are equal wherever they are made.
SYMBOLS: tuple[sp.Symbol, ...] = tuple(sp.Symbol(name, positive=True, integer=True) for name in "dnLc")
d, n, L, c = SYMBOLS

MAX_ANSWER_LENGTH = 500
_MAX_LITERAL = 10**30  # largest number literal accepted
_MAX_NUMERIC_EXPONENT = 100  # largest |exponent| when the exponent is a number
_MAX_INTEGER_BITS = 10_000  # bound on any integer sympy builds while evaluating the answer


class _Bound(sp.Function):
    """Placeholder for O(...) / Theta(...): stripped after parsing, remembered as 'asymptotic'."""

    nargs = 1


_FUNCTION_NAMES: dict[str, object] = {
    "exp": sp.exp,
    "log": sp.log,
    "ln": sp.log,
    "sqrt": sp.sqrt,
    "Max": sp.Max,
    "max": sp.Max,
    "Min": sp.Min,
    "min": sp.Min,
    "O": _Bound,
    "Theta": _Bound,
    "Θ": _Bound,
    "Omega": _Bound,
}
_SYMBOL_NAMES: dict[str, sp.Symbol] = {str(s): s for s in SYMBOLS}
_COMPLEXITY_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|(?P<name>[^\W\d]\w*)|(?P<op>\*\*|[-+*/^(),]))"
)
# Unicode operators students paste from typeset text.
_UNICODE_OPERATORS = {"×": "*", "·": "*", "⋅": "*", "−": "-", "–": "-"}


def _whitelisted_source(text: str) -> str:
    """Tokenize ``text``, reject anything outside the whitelist, return normalized source."""
    if len(text) > MAX_ANSWER_LENGTH:
        raise ValueError(f"answer is {len(text)} characters long; at most {MAX_ANSWER_LENGTH} are accepted")
    if "__" in text:
        raise ValueError("'__' is not allowed in an answer")
    for symbol, replacement in _UNICODE_OPERATORS.items():
        text = text.replace(symbol, replacement)
    pieces: list[str] = []
    position = 0
    stripped_end = len(text.rstrip())
    while position < stripped_end:
        match = _COMPLEXITY_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"unexpected character {text[position:].lstrip()[:1]!r} at position {position}")
        position = match.end()
        if match.group("number") is not None:
            literal = match.group("number")
            if float(literal) > _MAX_LITERAL:
                raise ValueError(f"number {literal} is too large")
            pieces.append(literal)
        elif match.group("name") is not None:
            pieces.append(_whitelisted_name(match.group("name")))
        else:
            pieces.append(match.group("op"))
    if not pieces:
        raise ValueError("empty answer")
    return " ".join(pieces)


def _whitelisted_name(name: str) -> str:
    if name in _SYMBOL_NAMES or name in _FUNCTION_NAMES:
        return name
    if len(name) > 1 and all(ch in _SYMBOL_NAMES for ch in name):
        return "*".join(name)  # 'dn' -> 'd*n', as in 'dn + Ln^2 + nc'
    allowed = ", ".join([*_SYMBOL_NAMES, "exp", "log", "sqrt", "Max", "O", "Theta"])
    raise ValueError(f"unknown name {name!r}; allowed names are {allowed}")


def _rebuild(expr: sp.Basic) -> tuple[sp.Basic, bool]:
    """Evaluate an unevaluated parse tree bottom-up under size guards; strip O/Theta wrappers.

    Returns the expression and whether an asymptotic wrapper was present.
    """
    if isinstance(expr, sp.Integer) and abs(int(expr)) > _MAX_LITERAL:
        raise ValueError(f"number {expr} is too large")
    if not expr.args or isinstance(expr, sp.Symbol):
        return expr, False
    rebuilt: list[sp.Basic] = []
    wrapped = False
    for arg in expr.args:
        new_arg, arg_wrapped = _rebuild(arg)
        rebuilt.append(new_arg)
        wrapped = wrapped or arg_wrapped
    if expr.func is _Bound:
        return rebuilt[0], True
    if isinstance(expr, sp.Pow) and rebuilt[1].is_Number and abs(rebuilt[1]) > _MAX_NUMERIC_EXPONENT:
        raise ValueError(f"exponent {rebuilt[1]} is too large (at most {_MAX_NUMERIC_EXPONENT})")
    result = expr.func(*rebuilt)
    for number in (result, *result.atoms(sp.Rational)):
        if isinstance(number, sp.Rational) and max(abs(number.p), number.q).bit_length() > _MAX_INTEGER_BITS:
            raise ValueError("a number in the answer is too large")
    return result, wrapped


def _parse(text: str) -> tuple[sp.Expr, bool]:
    """Parse an answer; return (expression, whether it was wrapped in O/Theta)."""
    if not isinstance(text, str):
        raise ValueError(f"answer must be a string, got {type(text).__name__}")
    source = _whitelisted_source(text)
    # Empty builtins: eval inside parse_expr would otherwise add the real ones.
    global_dict: dict[str, object] = {
        "__builtins__": {},
        "Integer": sp.Integer,
        "Float": sp.Float,
        "Rational": sp.Rational,
        "Add": sp.Add,
        "Mul": sp.Mul,
        "Pow": sp.Pow,
    }
    local_dict: dict[str, object] = {**_SYMBOL_NAMES, **_FUNCTION_NAMES}
    transformations = (auto_symbol, auto_number, convert_xor, implicit_multiplication)
    try:
        tree = parse_expr(
            source, local_dict=local_dict, global_dict=global_dict, transformations=transformations, evaluate=False
        )
    except Exception as error:  # parse_expr raises SyntaxError, TokenError, TypeError, NameError, ...
        raise ValueError(f"cannot parse {text!r}: {type(error).__name__}: {error}") from None
    if not isinstance(tree, sp.Expr):
        raise ValueError(f"cannot parse {text!r}: not an algebraic expression")
    try:
        expr, wrapped = _rebuild(tree)
    except ValueError as error:
        raise ValueError(f"cannot parse {text!r}: {error}") from None
    except Exception as error:
        raise ValueError(f"cannot parse {text!r}: {type(error).__name__}: {error}") from None
    if not isinstance(expr, sp.Expr) or expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        raise ValueError(f"cannot parse {text!r}: not a finite real expression")
    unknown = expr.free_symbols - set(SYMBOLS)
    if unknown:
        raise ValueError(f"cannot parse {text!r}: unknown symbols {sorted(map(str, unknown))}")
    return expr, wrapped


MAX_EXPANSION_TERMS = 5_000  # terms an expansion may produce before a judge expands symbolically
MAX_EXPANSION_DEGREE = 200  # total degree likewise (the counts of Problem 4 are of degree 3, or exponential)


def expansion_size(expr: sp.Basic, cap: int = 10**9) -> tuple[int, int]:
    """(upper bound on the total degree, upper bound on the number of terms) of `sp.expand(expr)`, from the
    tree alone, without expanding; both saturate at `cap`. Inside a function or a non-integer power the
    arguments' own expansion counts (sympy's expand goes into them)."""
    if expr.is_Atom:
        return (1 if expr.is_Symbol else 0), 1
    parts = [expansion_size(a, cap) for a in expr.args]
    if isinstance(expr, sp.Add):
        return max(d for d, _ in parts), min(cap, sum(t for _, t in parts))
    if isinstance(expr, sp.Mul):
        terms = 1
        for _, t in parts:
            terms = min(cap, terms * t)
        return min(cap, sum(d for d, _ in parts)), terms
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        (d, t), k = parts[0], abs(int(expr.exp))
        terms = 1  # monomials of degree k in t terms: C(t + k - 1, k), built as a product of exact steps
        for i in range(1, k + 1 if t > 1 else 1):
            terms = terms * (t - 1 + i) // i
            if terms >= cap:
                terms = cap
                break
        return min(cap, d * k), terms
    return max(d for d, _ in parts), max(t for _, t in parts)  # exp, log, Max, a symbolic power: kept whole


def expands_cheaply(*exprs: sp.Basic) -> bool:
    """Whether expanding every one of `exprs` stays within MAX_EXPANSION_TERMS and MAX_EXPANSION_DEGREE."""
    sizes = [expansion_size(e) for e in exprs]
    return all(d <= MAX_EXPANSION_DEGREE and t <= MAX_EXPANSION_TERMS for d, t in sizes) and \
        sum(t for _, t in sizes) <= MAX_EXPANSION_TERMS


ANSWER_TIME_S = 20.0  # seconds a judge of one student answer may take (honest answers take milliseconds)


def answer_took_too_long(seconds: float) -> Verdict:
    """The verdict on an answer whose judge ran past its time limit: 0, saying so."""
    return Verdict(0.0, f"Could not judge the answer within {seconds:g} s, so it earns nothing: it is far larger "
                        f"than any answer to this question needs to be; write it in a simpler form.")


def parse_complexity(text: str) -> sp.Expr:
    """Safely parse a student's complexity answer in d, n, L, c; O(...)/Theta(...) are stripped.

    Raises ValueError naming the text and the parse error.
    """
    return _parse(text)[0]
