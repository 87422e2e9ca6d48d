"""What a letter text may contain: named fields, their formats, optional paragraphs and lists. Nothing else.

Letter texts are edited by administrators in the browser (Beheer) and run on the workers, which see every BSN. A
text is therefore not a program: before a text is compiled, its parsed form is walked here and anything outside this
small language is refused with a Dutch message naming the line and what to use instead. The language is exactly what
texts/README.md documents:

- ``{{ field }}`` and ``{{ field|format }}`` with a known merge field and one of the letter formats;
- ``{{ arrangement.months }}`` for the few fields that are groups (the parts are listed in NESTED_FIELDS);
- ``{% if field %} ... {% elif other %} ... {% else %} ... {% endif %}`` around optional text, with ``and``, ``or``,
  ``not`` and a comparison with a plain number or word (``round > 1``);
- ``{% for person in household %} - {{ person }} {% endfor %}`` over a list field.

No calls, no indexing, no arithmetic, no ``set``/``include``/``import``/``macro``/``filter``/``with`` blocks, no
Jinja globals (``cycler``, ``joiner``, ``lipsum``, ``range``, ``namespace``, ``self``) and no filters but ours.
The renderer compiles texts in Jinja's immutable sandbox as well (templates.py), so a text that somehow skipped this
check still cannot reach Python objects; this check is what lets an administrator know at save time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jinja2 import nodes

#: Fields that are a group of values, and the parts a text may name (``{{ arrangement.months }}``).
NESTED_FIELDS: Mapping[str, frozenset[str]] = {
    "arrangement": frozenset({"monthly_cents", "months", "start_date", "basis", "remaining_cents", "paid_by"}),
    "chased": frozenset({"letter_type", "title", "date", "reference"}),  # L3: the letter the reminder chases
    "cjib": frozenset({"schadevergoeding", "deferral_start"}),  # L1-L5 to the CJIB
    "consent": frozenset({"purposes", "recipients", "valid_until", "witness", "municipality", "retention_years"}),
    "withdrawal": frozenset({"scope", "from_date", "to_creditor"}),
}

_COMPARISONS = frozenset({"eq", "ne", "gt", "gteq", "lt", "lteq"})


class TextRuleError(ValueError):
    """A text uses something outside the letter language; the message is Dutch and names the line."""


@dataclass(frozen=True)
class _Where:
    """Turns a line number inside the parsed source into the line an administrator sees in the whole text."""

    first_line: int  # the line of the whole text that is line 1 of the parsed source
    label: str  # "de tekst" or "het onderwerp"

    def __call__(self, node: nodes.Node) -> str:
        line = self.first_line + (getattr(node, "lineno", 1) or 1) - 1
        return f"Regel {line} ({self.label})"


def check_text(
    tree: nodes.Template,
    *,
    fields: Iterable[str],
    filters: Iterable[str],
    first_line: int = 1,
    label: str = "de tekst",
) -> None:
    """Refuse (TextRuleError) anything in `tree` but the letter language over `fields` and `filters`."""
    _Checker(frozenset(fields), frozenset(filters), _Where(first_line, label)).statements(tree.body, frozenset())


class _Checker:
    def __init__(self, fields: frozenset[str], filters: frozenset[str], where: _Where) -> None:
        self.fields = fields
        self.filters = filters
        self.where = where

    def fail(self, node: nodes.Node, message: str) -> TextRuleError:
        return TextRuleError(f"{self.where(node)}: {message}")

    # -- statements ----------------------------------------------------------------------------------------------------

    def statements(self, body: Iterable[nodes.Node], loop_names: frozenset[str]) -> None:
        for node in body:
            self.statement(node, loop_names)

    def statement(self, node: nodes.Node, loop_names: frozenset[str]) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.value(child, loop_names)
        elif isinstance(node, nodes.If):
            self.condition(node.test, loop_names)
            self.statements(node.body, loop_names)
            for branch in node.elif_:
                self.statement(branch, loop_names)
            self.statements(node.else_, loop_names)
        elif isinstance(node, nodes.For):
            self.loop(node, loop_names)
        else:
            raise self.fail(node, _refused_statement(node))

    def loop(self, node: nodes.For, loop_names: frozenset[str]) -> None:
        if node.recursive or node.test is not None:
            raise self.fail(node, "een lijst kan alleen als {% for x in lijst %} ... {% endfor %}, zonder 'if' erin.")
        target = node.target
        if not isinstance(target, nodes.Name) or not _is_plain_name(target.name):
            raise self.fail(node, "na 'for' komt één naam, zoals {% for persoon in household %}.")
        if target.name in self.fields or target.name in NESTED_FIELDS:
            raise self.fail(node, f"'{target.name}' is al een gegeven; kies een andere naam na 'for'.")
        self.field(node.iter, loop_names, what="lijst")
        inner = loop_names | {target.name}
        self.statements(node.body, inner)
        self.statements(node.else_, loop_names)

    # -- expressions ---------------------------------------------------------------------------------------------------

    def value(self, node: nodes.Node, loop_names: frozenset[str]) -> None:
        """What may stand between {{ and }}: a field, optionally with one format."""
        if isinstance(node, nodes.Filter):
            if node.node is None:
                raise self.fail(node, "een opmaak staat altijd achter een gegeven: {{ gegeven|opmaak }}.")
            if node.name not in self.filters:
                raise self.fail(
                    node, f"'|{node.name}' is geen opmaak voor brieven. Gebruik {_listed(sorted(self.filters))}."
                )
            if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
                raise self.fail(node, f"'|{node.name}' neemt niets tussen haakjes.")
            self.field(node.node, loop_names, what="gegeven")
        else:
            self.field(node, loop_names, what="gegeven")

    def field(self, node: nodes.Node, loop_names: frozenset[str], *, what: str) -> None:
        if isinstance(node, nodes.Name):
            if node.name in loop_names or node.name in self.fields:
                return
            if node.name.startswith("_"):
                raise self.fail(node, "namen die met '_' beginnen kunnen niet in een brief.")
            raise self.fail(
                node,
                f"'{node.name}' is geen gegeven dat in een brief kan. De gegevens staan in de lijst bij het "
                "tekstvak en in texts/README.md.",
            )
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            group = node.node.name
            parts = NESTED_FIELDS.get(group)
            if parts is None or group not in self.fields:
                raise self.fail(
                    node, f"'{group}.{node.attr}' bestaat niet; alleen {_nested_listed()} hebben onderdelen."
                )
            if node.attr not in parts:
                raise self.fail(node, f"'{group}' heeft geen onderdeel '{node.attr}'; wel {_listed(sorted(parts))}.")
            return
        raise self.fail(node, f"hier hoort een {what}, zoals {{{{ client_name }}}}; {_refused_expression(node)}")

    def condition(self, node: nodes.Node, loop_names: frozenset[str]) -> None:
        """What may follow `if`: fields, `and`/`or`/`not`, and a comparison with a plain number or word."""
        if isinstance(node, nodes.And | nodes.Or):
            self.condition(node.left, loop_names)
            self.condition(node.right, loop_names)
        elif isinstance(node, nodes.Not):
            self.condition(node.node, loop_names)
        elif isinstance(node, nodes.Compare):
            self.operand(node.expr, loop_names)
            for operand in node.ops:
                if operand.op not in _COMPARISONS:
                    raise self.fail(node, "vergelijk alleen met ==, !=, <, <=, > of >=.")
                self.operand(operand.expr, loop_names)
        else:
            self.value(node, loop_names)

    def operand(self, node: nodes.Node, loop_names: frozenset[str]) -> None:
        if isinstance(node, nodes.Const) and (node.value is None or isinstance(node.value, bool | int | str)):
            if isinstance(node.value, str) and len(node.value) > 200:
                raise self.fail(node, "een woord om mee te vergelijken is hooguit 200 tekens.")
            return
        self.value(node, loop_names)


def _is_plain_name(name: str) -> bool:
    return name.isidentifier() and not name.startswith("_")


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " of " + names[-1] if len(names) > 1 else "".join(names)


def _nested_listed() -> str:
    names = sorted(NESTED_FIELDS)
    return ", ".join(names[:-1]) + " en " + names[-1]


_STATEMENT_WORDS: Mapping[type[nodes.Node], str] = {
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.With: "with",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
    nodes.Block: "block",
    nodes.ExprStmt: "do",
    nodes.Break: "break",
    nodes.Continue: "continue",
    nodes.Scope: "scope",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
}


def _refused_statement(node: nodes.Node) -> str:
    word = _STATEMENT_WORDS.get(type(node), type(node).__name__)
    return (
        f"'{{% {word} %}}' kan niet in een brief. Een brief kent alleen {{% if %}} voor tekst die soms "
        "meedoet en {% for %} voor een lijst."
    )


def _refused_expression(node: nodes.Node) -> str:
    if isinstance(node, nodes.Call):
        return "een functie aanroepen met ( ) kan niet in een brief."
    if isinstance(node, nodes.Getitem | nodes.Slice):
        return "een deel kiezen met [ ] kan niet in een brief."
    if isinstance(node, nodes.Getattr):
        return f"een onderdeel van iets anders dan {_nested_listed()} kan niet in een brief."
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr | nodes.Concat):
        return "rekenen of teksten aan elkaar plakken kan niet in een brief; schrijf de tekst gewoon uit."
    if isinstance(node, nodes.Const | nodes.Literal):
        return "een vaste waarde tussen {{ }} is niet nodig: typ de tekst gewoon in de brief."
    if isinstance(node, nodes.Test):
        return "een test met 'is' kan niet in een brief; gebruik {% if gegeven %}."
    if isinstance(node, nodes.CondExpr):
        return "gebruik {% if %} ... {% else %} ... {% endif %} in plaats van 'a if b else c'."
    return f"'{type(node).__name__}' kan niet in een brief."
