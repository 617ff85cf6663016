r"""The one grammar of sprig's spec mini-language (CLI flags and config-file strings).

Every string spec — ``--layers="ReLU;ReLU;Linear"``, ``--optimizers="Nesterov(0.9)"``,
``--learning-rate="MultiStepLR(0.1; 50,75; 0.1)"``, ``--layer-sizes=3072;1024;10`` — goes
through this module and nowhere else (STYLE.md §9.3). It produces a small untyped syntax tree
(:class:`Call`, numbers, tuples); :mod:`sprig.specs.types` turns that into typed, validated specs.

Grammar (EBNF; whitespace between tokens is ignored)::

    sequence  = [ items ] ;                          (* a whole string, e.g. "ReLU;ReLU;Linear" *)
    items     = item { SEP item } ;                  (* SEP is ';' or ',', see "separators" *)
    item      = group ;
    arglist   = [ arg { SEP arg } ] ;                (* inside '(' ... ')' of a call *)
    arg       = [ NAME '=' ] group ;
    group     = value { ',' value } ;                (* only if SEP is ';': a ','-group = list *)
    value     = NUMBER | call | list ;
    call      = NAME [ '(' arglist ')' ] ;
    list      = '[' [ value { ',' value } ] ']' ;

    NAME      = letter { letter | digit | '_' | '-' | '.' } ;   (* letter includes '_' *)
    NUMBER    = [ '+' | '-' ] ( digits [ '.' [ digits ] ] | '.' digits )
                [ ( 'e' | 'E' ) [ '+' | '-' ] digits ] ;

Separators (Nerva uses both conventions, so both are accepted):

* Within one bracket level (the whole string, or one call's parentheses), **if any ``;`` occurs
  at that level, ``;`` separates the items/arguments and ``,`` builds lists**:
  ``MultiStepLR(0.1; 50,75; 0.1)`` → args ``(0.1, (50, 75), 0.1)``;
  ``Adam(betas=0.9,0.999; eps=1e-8)`` → kwargs ``betas=(0.9, 0.999), eps=1e-8``.
* **Otherwise ``,`` separates**: ``SReLU(al=0, tl=0, ar=0, tr=1)``, ``3072,1024,10``.
* Each level decides on its own: ``Warmup(MultiStep(0.1; 50,75; 0.1), 5)`` is fine.
* ``[a, b]`` is always a list (needed for a list of length 0 or 1; ``str(spec)`` uses it).

Semantics of the tree:

* a NUMBER without ``.`` or exponent is an ``int``, else a ``float`` (``1e-30``, ``.5``,
  ``-0.1``, ``1.``); ``inf``/``nan`` are not numbers (every spec value is finite);
* a NAME, with or without parentheses, is a :class:`Call` (``ReLU`` and ``ReLU()`` are the same
  call with no arguments); bare names also serve as symbolic values (``none``, ``true``,
  ``cosine``), interpreted by :mod:`sprig.specs.registry`;
* keyword arguments may follow or mix with positional ones; a keyword appears once;
* keywords are only allowed inside parentheses, never at the top level;
* a number followed by a unit word (``100 steps``, ``1 epoch``) is the call
  ``steps(100)`` / ``epochs(1)``: a period with an explicit unit (printed back as
  ``100 steps``).

Errors are :class:`SpecError` (a :class:`sprig.errors.ConfigError`): one-line message with the
1-based column, e.g. ``unexpected ')' at column 14 in 'Nesterov(0.9))'``; :meth:`SpecError.pretty`
adds the offending text and a caret line under the column for the CLI.

Examples:
    >>> parse_call("MultiStepLR(0.1; 50,75; 0.1)")
    Call(name='MultiStepLR', args=(0.1, (50, 75), 0.1), kwargs=())
    >>> [str(c) for c in parse_sequence("ReLU;AllReLU(0.3);Linear")]
    ['ReLU', 'AllReLU(0.3)', 'Linear']
    >>> parse_sequence("3072,1024,10")
    (3072, 1024, 10)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias, Union

from ..errors import ConfigError

__all__ = [
    "Call",
    "Node",
    "SpecError",
    "format_node",
    "parse_call",
    "parse_sequence",
    "parse_value",
]

#: Unit words that may follow a number ("100 steps"): spelling → canonical call name.
UNITS = {"step": "steps", "steps": "steps", "epoch": "epochs", "epochs": "epochs"}

#: A syntax-tree node: a number, a call (or bare name) or a list of nodes.
Node: TypeAlias = Union[int, float, "Call", tuple["Node", ...]]


class SpecError(ConfigError):
    """A spec string is malformed (or names/values an unknown or invalid thing).

    ``str(err)`` is one line. When the error has a position, ``text`` and ``column`` (1-based)
    are set and :meth:`pretty` renders the text with a caret under the column.
    """

    def __init__(self, message: str, text: str | None = None, column: int | None = None):
        self.message = message
        self.text = text
        self.column = column
        if text is not None and column is not None:
            message = f"{message} at column {column} in {text!r}"
        super().__init__(message)

    def pretty(self) -> str:
        """The one-line message, then (with a position) the text and a caret line."""
        if self.text is None or self.column is None:
            return str(self)
        return f"{self}\n  {self.text}\n  {' ' * (self.column - 1)}^"


@dataclass(frozen=True)
class Call:
    """``name(args..., key=value...)`` or a bare ``name``; ``column`` is where the name starts.

    ``column`` is excluded from equality so that trees compare by content.
    """

    name: str
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()
    column: int = field(default=0, compare=False, repr=False)

    @property
    def is_bare(self) -> bool:
        """True for a plain name without arguments (``ReLU``, ``none``, ``true``)."""
        return not self.args and not self.kwargs

    def __str__(self) -> str:
        return format_node(self)


# --------------------------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<punct>[()\[\],;=])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "number" | "name" | "punct" | "end"
    text: str
    pos: int  # 0-based offset


def _describe(tok: _Tok) -> str:
    return "end of input" if tok.kind == "end" else repr(tok.text)


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SpecError(f"unexpected character {text[pos]!r}", text, pos + 1)
        kind = m.lastgroup
        assert kind is not None
        if kind == "number":
            end = m.end()
            # "1e" / "12abc" / "0.9x": a number glued to a name is a typo, not two tokens.
            if end < len(text) and (text[end].isalnum() or text[end] == "_"):
                j = end
                while j < len(text) and (text[j].isalnum() or text[j] in "_.-+"):
                    j += 1
                raise SpecError(f"malformed number {text[pos:j]!r}", text, pos + 1)
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


# ------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.open_parens: list[_Tok] = []

    # -- helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, message: str, tok: _Tok | None = None) -> SpecError:
        tok = tok or self.tok
        return SpecError(message, self.text, tok.pos + 1)

    def unexpected(self, expected: str | None = None) -> SpecError:
        tok = self.tok
        if tok.kind == "end" and self.open_parens:
            opener = self.open_parens[-1]
            return self.error(f"unclosed {opener.text!r}", opener)
        msg = f"unexpected {_describe(tok)}"
        if expected:
            msg += f" (expected {expected})"
        return self.error(msg, tok)

    def at(self, text: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == text

    def expect(self, text: str, expected: str) -> None:
        if not self.at(text):
            raise self.unexpected(expected)
        self.i += 1

    def level_has_semicolon(self) -> bool:
        """Whether a ';' occurs at the current bracket level before it closes."""
        depth = 0
        for tok in self.toks[self.i :]:
            if tok.kind == "end":
                return False
            if tok.kind != "punct":
                continue
            if tok.text in "([":
                depth += 1
            elif tok.text in ")]":
                if depth == 0:
                    return False
                depth -= 1
            elif tok.text == ";" and depth == 0:
                return True
        return False

    # -- grammar rules
    def items(
        self, closer: str | None, allow_kwargs: bool
    ) -> tuple[list[Node], list[tuple[str, Node]]]:
        """``arglist`` (inside parens, ``closer=')'``) or top-level ``items`` (``closer=None``)."""
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        seen: set[str] = set()
        sep = ";" if self.level_has_semicolon() else ","
        if self._at_close(closer):
            return args, kwargs
        while True:
            key_tok = self.tok
            nxt = self.toks[self.i + 1]
            if key_tok.kind == "name" and nxt.kind == "punct" and nxt.text == "=":
                if not allow_kwargs:
                    raise self.error("keyword arguments are only allowed inside parentheses", nxt)
                if key_tok.text.lower() in seen:
                    raise self.error(f"duplicate keyword {key_tok.text!r}", key_tok)
                seen.add(key_tok.text.lower())
                self.i += 2
                kwargs.append((key_tok.text, self.group(sep)))
            else:
                if kwargs:
                    raise self.error("positional argument after keyword argument", key_tok)
                args.append(self.group(sep))
            if self._at_close(closer):
                return args, kwargs
            if self.at(sep):
                self.i += 1
                if self._at_close(closer) or self.at(sep):
                    raise self.unexpected("a value after " + repr(sep))
                continue
            expected = f"{sep!r} or {closer!r}" if closer else f"{sep!r} or end of input"
            raise self.unexpected(expected)

    def _at_close(self, closer: str | None) -> bool:
        return self.at(closer) if closer else self.tok.kind == "end"

    def group(self, sep: str) -> Node:
        first = self.value()
        if sep != ";" or not self.at(","):
            return first
        values = [first]
        while self.at(","):
            self.i += 1
            values.append(self.value())
        return tuple(values)

    def value(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            unit = self.tok
            if unit.kind == "name" and unit.text.lower() in UNITS:
                # "100 steps", "1 epoch": a period with its unit, sugar for steps(100)
                self.i += 1
                return Call(UNITS[unit.text.lower()], (_number(tok.text),), column=tok.pos + 1)
            return _number(tok.text)
        if tok.kind == "name":
            return self.call()
        if self.at("["):
            self.open_parens.append(tok)
            self.i += 1
            values: list[Node] = []
            if not self.at("]"):
                values.append(self.value())
                while self.at(","):
                    self.i += 1
                    values.append(self.value())
            self.expect("]", "',' or ']'")
            self.open_parens.pop()
            return tuple(values)
        raise self.unexpected("a number, a name or '['")

    def call(self) -> Call:
        tok = self.tok
        self.i += 1
        if not self.at("("):
            return Call(tok.text, column=tok.pos + 1)
        self.open_parens.append(self.tok)
        self.i += 1
        args, kwargs = self.items(")", allow_kwargs=True)
        self.i += 1  # the ')'
        self.open_parens.pop()
        return Call(tok.text, tuple(args), tuple(kwargs), column=tok.pos + 1)

    def finish(self) -> None:
        if self.tok.kind != "end":
            raise self.unexpected()


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise SpecError(f"{what} must be a string, got {type(text).__name__} {text!r}")
    if not text.strip():
        raise SpecError(f"empty {what}")
    return text


def parse_call(text: str) -> Call:
    """Parse exactly one call (``Name`` or ``Name(args)``).

    Raises:
        SpecError: malformed text, or anything other than one call.
    """
    _check_text(text, "spec")
    p = _Parser(text)
    if p.tok.kind != "name":
        raise p.unexpected("a name")
    call = p.call()
    if p.at(";") or p.at(","):
        raise p.error(f"expected one spec, found a list (separator {p.tok.text!r})")
    p.finish()
    return call


def parse_value(text: str) -> Node:
    """Parse one value: a number, a call or a ``[...]`` list."""
    _check_text(text, "value")
    p = _Parser(text)
    node = p.value()
    p.finish()
    return node


def parse_sequence(text: str) -> tuple[Node, ...]:
    """Parse a top-level ``;``- or ``,``-separated sequence (see the separator rule above).

    ``"ReLU;ReLU;Linear"`` gives three calls; ``"3072;1024;10"`` and ``"3072,1024,10"`` give
    the same three ints. A single item gives a 1-tuple.
    """
    _check_text(text, "spec list")
    p = _Parser(text)
    args, _ = p.items(None, allow_kwargs=False)
    p.finish()
    return tuple(args)


def format_node(node: Node) -> str:
    """Canonical text of a node; ``parse_value(format_node(n)) == n`` for every node."""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int):
        return str(node)
    if isinstance(node, float):
        return repr(node)
    if isinstance(node, tuple):
        return "[" + ", ".join(format_node(v) for v in node) + "]"
    if node.is_bare:
        return node.name
    if node.name in UNITS.values() and len(node.args) == 1 and not node.kwargs:
        return f"{format_node(node.args[0])} {node.name}"
    parts = [format_node(a) for a in node.args]
    parts += [f"{k}={format_node(v)}" for k, v in node.kwargs]
    return f"{node.name}({', '.join(parts)})"
