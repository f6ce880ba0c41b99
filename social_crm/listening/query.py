"""Boolean queries: terms combined with AND, OR, NOT and parentheses, parsed by a grammar.

NOT binds tightest, then AND, then OR: ``a OR b AND NOT c`` is ``a OR (b AND (NOT c))``.
Operators are upper case; terms are words, ``"quoted phrases"``, ``#hashtags``,
``$cashtags`` and ``prefix*`` (see text.Term). Two terms side by side are an error, not
an implicit AND, so a phrase left unquoted is caught.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from social_crm.listening.text import FoldedText, Term

LOGGER = logging.getLogger(__name__)

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr -> negation
         | atom
?atom: WORD -> word
     | PHRASE -> phrase
     | LPAR or_expr RPAR -> group
OR: "OR"
AND: "AND"
NOT: "NOT"
LPAR: "("
RPAR: ")"
WORD: /[^\s()"]+/
PHRASE: /"[^"]*"/
%ignore /\s+/
"""
TERM_TOKENS = frozenset({"WORD", "PHRASE", "LPAR", "NOT"})
OPERATORS = frozenset({"AND", "OR", "NOT"})


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; the message names the 1-based column of the problem."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class Query:
    """A parsed query: a term, or NOT/AND/OR of queries."""

    def matches(self, text: FoldedText) -> bool:
        """Whether ``text`` satisfies the query."""
        raise NotImplementedError

    def terms(self) -> list[Term]:
        """Every term the query names, in order."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class TermQuery(Query):
    """One term."""

    term: Term

    def matches(self, text: FoldedText) -> bool:
        """Whether the term occurs in ``text``."""
        return self.term.matches(text)

    def terms(self) -> list[Term]:
        """The one term."""
        return [self.term]

    def __str__(self) -> str:
        return self.term.label()


@dataclass(frozen=True, slots=True)
class NotQuery(Query):
    """The negation of a query."""

    operand: Query

    def matches(self, text: FoldedText) -> bool:
        """Whether the operand does not match."""
        return not self.operand.matches(text)

    def terms(self) -> list[Term]:
        """The operand's terms."""
        return self.operand.terms()

    def __str__(self) -> str:
        return f"NOT {_grouped(self.operand)}"


@dataclass(frozen=True, slots=True)
class AndQuery(Query):
    """Every operand matches."""

    operands: tuple[Query, ...]

    def matches(self, text: FoldedText) -> bool:
        """Whether all operands match."""
        return all(operand.matches(text) for operand in self.operands)

    def terms(self) -> list[Term]:
        """The operands' terms."""
        return [term for operand in self.operands for term in operand.terms()]

    def __str__(self) -> str:
        return " AND ".join(_grouped(operand) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class OrQuery(Query):
    """At least one operand matches."""

    operands: tuple[Query, ...]

    def matches(self, text: FoldedText) -> bool:
        """Whether any operand matches."""
        return any(operand.matches(text) for operand in self.operands)

    def terms(self) -> list[Term]:
        """The operands' terms."""
        return [term for operand in self.operands for term in operand.terms()]

    def __str__(self) -> str:
        return " OR ".join(_grouped(operand) for operand in self.operands)


def _grouped(query: Query) -> str:
    """A query as an operand: parenthesised when it is AND or OR."""
    return f"({query})" if isinstance(query, AndQuery | OrQuery) else str(query)


class _ToQuery(Transformer[Token, Query]):
    """The parse tree as Query objects."""

    def word(self, children: list[Token]) -> Query:
        return TermQuery(_term(children[0], children[0].value, phrase=False))

    def phrase(self, children: list[Token]) -> Query:
        token = children[0]
        inner = token.value[1:-1]
        if not inner.strip():
            raise QuerySyntaxError(f"empty phrase at column {token.column}", token.column)
        return TermQuery(_term(token, inner, phrase=True))

    def group(self, children: list[Query | Token]) -> Query:
        return next(child for child in children if isinstance(child, Query))

    def negation(self, children: list[Query | Token]) -> Query:
        return NotQuery(_only_queries(children)[0])

    def and_expr(self, children: list[Query | Token]) -> Query:
        return AndQuery(tuple(_only_queries(children)))

    def or_expr(self, children: list[Query | Token]) -> Query:
        return OrQuery(tuple(_only_queries(children)))


def _term(token: Token, text: str, *, phrase: bool) -> Term:
    try:
        return Term(text, phrase=phrase)
    except ValueError as exc:
        raise QuerySyntaxError(f"{exc} at column {token.column}", token.column) from None


def _only_queries(children: list[Query | Token]) -> list[Query]:
    return [child for child in children if isinstance(child, Query)]


@cache
def _parser() -> Lark:
    """The LALR parser, built once."""
    return Lark(GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)


def parse_query(text: str) -> Query:
    """Parse ``text``; raises QuerySyntaxError saying what is wrong and at which column."""
    if not text.strip():
        raise QuerySyntaxError("the query is empty")
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        raise _explain(text, exc) from None
    try:
        return _ToQuery().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, QuerySyntaxError):
            raise exc.orig_exc from None
        raise


def _explain(text: str, exc: UnexpectedInput) -> QuerySyntaxError:
    """A parse failure in words, with the column where it was found."""
    if isinstance(exc, UnexpectedCharacters):
        column = exc.column
        char = text[exc.pos_in_stream]
        if char == '"':
            return QuerySyntaxError(f"unclosed quote at column {column}", column)
        return QuerySyntaxError(f"unexpected {char!r} at column {column}", column)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    end = token.type == "$END"
    position = len(text.rstrip()) if end else (token.start_pos or 0)
    column = position + 1
    before = list(_parser().lex(text[:position]))
    previous = before[-1] if before else None
    wants_term = bool(TERM_TOKENS & set(exc.expected))
    if end and not wants_term:
        opened = _unclosed_parenthesis(before) or column
        return QuerySyntaxError(f"missing ) to close the ( at column {opened}", opened)
    found = "" if end else f", found {token.value}"
    if wants_term:
        if previous is None:
            return QuerySyntaxError(
                f"expected a term before {token.value} at column {column}", column
            )
        if previous.type == "LPAR" and token.type == "RPAR":
            opened = previous.column or column
            return QuerySyntaxError(f"empty parentheses at column {opened}", opened)
        return QuerySyntaxError(
            f"expected a term after {previous.value} at column {column}{found}", column
        )
    if token.type == "RPAR":
        return QuerySyntaxError(f"unexpected ) at column {column}: no ( to close", column)
    allowed = "AND, OR or )" if _unclosed_parenthesis(before) else "AND or OR"
    hint = ""
    if token.type == "NOT":
        hint = " (write AND NOT)"
    elif previous is not None and {previous.type, token.type} == {"WORD"}:
        hint = f' (quote "{previous.value} {token.value}" to match a phrase)'
    return QuerySyntaxError(
        f"expected {allowed} before {token.value} at column {column}{hint}", column
    )


def _unclosed_parenthesis(tokens: list[Token]) -> int | None:
    """The column of the last ( that no ) closes; None when every ( is closed."""
    stack: list[int] = []
    for token in tokens:
        if token.type == "LPAR":
            stack.append(token.column or 1)
        elif token.type == "RPAR" and stack:
            stack.pop()
    return stack[-1] if stack else None
