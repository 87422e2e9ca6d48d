"""Letter texts: one file per letter type in `texts/`, a small header and a Jinja body, rendered to plain blocks.

The texts are written by non-programmers (see texts/README.md). A text renders to plain strings only: every value
from the case goes through `_finalize`, which cleans it and swaps it for a token while the body's structure (headings,
bullets, fact rows) is read, so a value can neither add structure nor markup. The PDF renderer escapes every string
before it reaches reportlab, so a name like "<font color=red>X</font>" prints as written.

Missing data fails loudly: the Jinja environment uses StrictUndefined, each text lists its required fields in
`verplicht:`, and printing a field that is None is an error instead of the word "None" in a letter.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from schulden.cases.models import WGS_THREATS
from schulden.letters.content import AMOUNT_STATUS_NL, LETTER_TYPES, LetterContent
from schulden.letters.text_rules import TextRuleError, check_text

log = logging.getLogger(__name__)

TEXTS_DIR = Path(__file__).resolve().with_name("texts")
LOCALE = "nl_NL"

#: Shown for a threat (cases.models.Threat) in "Er dreigt {{ threat|dreiging }}."
THREAT_NL: Mapping[str, str] = {
    "eviction": "een huisuitzetting",
    "utility_cut_off": "afsluiting van gas, stroom of water",
    "insurance_termination": "beëindiging van de zorgverzekering",
    "attachment": "beslag op inkomen of bezittingen",
}

#: The threats that put the municipality on the 3-working-day track of art. 4a Wgs (cases.models, the one list).
WGS_URGENT_THREATS: frozenset[str] = WGS_THREATS

#: Merge fields a text may use, with the value a text sees when the caller leaves the field out.
#: `client_name` is required for every letter; each text adds its own required fields in `verplicht:`.
FIELD_DEFAULTS: Mapping[str, Any] = {
    "client_initials": None,
    "date_of_birth": None,
    "dji_number": None,
    "bsn": None,  # only present when the recipient may receive it
    "pi_name": None,
    "pi_postal_address": None,
    "detention_start": None,
    "expected_release": None,
    "actual_release": None,  # L6: reactivation of the health insurance after release
    "pre_trial": False,
    "collector_for": None,
    "threat": None,
    "reply_deadline": None,
    "first_letter_date": None,  # L3
    "first_reference": None,  # L3: our reference of the first letter
    "round": None,  # L3: 1 = first reminder, 2 = second
    "missing": None,  # L3: list of what is still missing
    "arrangement": None,  # L4: monthly_cents, months, start_date, basis
    "contract_number": None,  # L5
    "end_date": None,  # L5: None = as soon as possible
    "benefits": None,  # L7
    "municipality_name": None,  # L8
    "municipality_address": None,  # accepted for the caller's convenience; the recipient block carries the address
    "first_appointment": None,  # L8: proposed date of the first conversation
    "release_address": None,  # L8: where the client will live after release
    "income_after_release": None,  # L8
    "bank_account": None,  # L8
    "id_document": None,  # L8
    "casemanager": None,  # L8: name and phone of the PI casemanager
    "probation_officer": None,  # L8
    "terminated_contracts": None,  # L8: list of str
    "consent": None,  # L9: purposes, recipients, valid_until, witness
    "withdrawal": None,  # L10: scope, from_date
    "household": None,  # list of str
    "chased": None,  # L3: the letter a reminder chases (letter_type, title, date, reference)
    "cjib": None,  # L1-L5 to the CJIB: schadevergoeding, deferral_start
    "policy_number": None,  # L6: the client's policy or relationship number
    "reactivation": False,  # L6: round 2, the insurance starts again after release
    "insured_children": None,  # L6: children insured on the client's policy
    "report_deadline": None,  # L7 to Toeslagen: 4 weeks after the start of detention
    "report_late": False,  # L7: the letter goes after that deadline
    "housing_after_release": None,  # L8
    "health_insurance": None,  # L8
    "care_after_release": None,  # L8
    "contact_after_release": None,  # L8
    "debt_details": None,  # L8: list of str, one line per debt
}
REQUIRED_FIELDS: tuple[str, ...] = ("client_name",)
KNOWN_FIELDS: frozenset[str] = frozenset(FIELD_DEFAULTS) | frozenset(REQUIRED_FIELDS)

#: Names a text can use that come from the letter itself, not from `fields`.
LETTER_NAMES: frozenset[str] = frozenset(
    {
        "letter_type",
        "letter_date",
        "our_reference",
        "their_reference",
        "sender_name",
        "recipient_name",
        "counsellor",
        "debts",
        "debts_total_cents",
        "attachments",
        "reply_code",
        "text_version",
        "arrangement_total_cents",
        "arrangement_end",
        "wgs_urgent",
    }
)

_HEADER_KEYS = {"titel", "versie", "onderwerp", "verplicht"}
_VERSION_RE = re.compile(r"[1-9][0-9]*")
_DEBT_TABLE_LINE = "[[schuldenoverzicht]]"

# Values are swapped for these tokens while the body's structure is read (private-use characters, removed from values).
_TOKEN_OPEN, _TOKEN_CLOSE = "\ue000", "\ue001"
_TOKEN_RE = re.compile("\ue000([0-9]+)\ue001")
_VALUES_KEY = "_schuldroute_values"
_SPACES_RE = re.compile(r"[ \t\r\n\f\v\x85\u2028\u2029]+")
_BREAKS_RE = re.compile(r"[\t\r\n\f\v\x85\u2028\u2029]+")
_KEEP_FORMAT_CHARS = {"\u200c", "\u200d"}  # ZWNJ/ZWJ belong to some names; bidi overrides and the like do not


class LetterTextError(ValueError):
    """A text file is malformed or a value cannot be printed."""


class MissingField(jinja2.UndefinedError):
    """A required merge field is missing or empty."""


# -- blocks ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class BulletList:
    items: tuple[str, ...]
    checkbox: bool = False  # items to tick ("[ ]" in the text), e.g. consent purposes


@dataclass(frozen=True)
class Facts:
    """Label/value rows ("| Naam | ..." in the text), shown as a two-column table."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DebtTable:
    """Where the table of `LetterContent.debts` goes ("[[schuldenoverzicht]]" in the text)."""


Block = Paragraph | Heading | BulletList | Facts | DebtTable


@dataclass(frozen=True)
class LetterTemplate:
    letter_type: str
    title: str
    version: str
    subject: str  # Jinja source of the subject line
    body: str  # Jinja source of the body
    required: tuple[str, ...]
    subject_template: jinja2.Template = field(repr=False, compare=False)
    body_template: jinja2.Template = field(repr=False, compare=False)


@dataclass(frozen=True)
class RenderedText:
    title: str
    subject: str
    version: str
    blocks: tuple[Block, ...]


# -- cleaning and formatting -------------------------------------------------------------------------------------------


def plain_text(value: str) -> str:
    """One line of printable text: NFC, no control or bidi-override characters, line breaks and tabs made spaces.

    Runs of ordinary spaces stay (Dutch addresses put two spaces between postcode and city).
    """
    value = unicodedata.normalize("NFC", value)
    if not value.isascii() or not value.isprintable():
        value = "".join(
            ch
            for ch in value
            if ch in _KEEP_FORMAT_CHARS
            or ch in "\t\n\r\f\v"
            or (unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cs", "Cn"})
        )
    return _BREAKS_RE.sub(" ", value).strip()


def datum(value: date) -> str:
    """28 november 2026."""
    if not isinstance(value, date):
        raise LetterTextError(f"|datum needs a date, got {value!r}")
    return format_date(value, "d MMMM y", locale=LOCALE)


def bedrag(cents: int) -> str:
    """Integer cents to '€\\xa01.234,56' (a no-break space after the euro sign)."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise LetterTextError(f"|bedrag needs an amount in whole cents (int), got {cents!r}")
    return format_currency(Decimal(cents).scaleb(-2), "EUR", locale=LOCALE)


def status(amount_status: str) -> str:
    try:
        return AMOUNT_STATUS_NL[amount_status]
    except KeyError:
        raise LetterTextError(f"unknown amount status {amount_status!r}") from None


def dreiging(threat: str) -> str:
    try:
        return THREAT_NL[threat]
    except KeyError:
        raise LetterTextError(f"unknown threat {threat!r}; expected one of {', '.join(THREAT_NL)}") from None


def opsomming(items: Iterable[Any]) -> str:
    """'a', 'a en b', 'a, b en c'."""
    texts = [_as_text(item) for item in items]
    if len(texts) <= 1:
        return "".join(texts)
    return ", ".join(texts[:-1]) + " en " + texts[-1]


def _as_text(value: Any) -> str:
    if value is None:
        raise LetterTextError(
            "a field without a value (None) is printed; give it a value or put the text in {% if ... %}"
        )
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, date):
        return datum(value)
    if isinstance(value, str):
        return plain_text(value.replace(_TOKEN_OPEN, "").replace(_TOKEN_CLOSE, ""))
    if isinstance(value, list | tuple):
        return opsomming(value)
    return plain_text(str(value))


@jinja2.pass_context
def _finalize(context: Context, value: Any) -> str:
    values: list[str] = context[_VALUES_KEY]
    values.append(_as_text(value))
    return f"{_TOKEN_OPEN}{len(values) - 1}{_TOKEN_CLOSE}"


#: The formats a text may use after a field: {{ detention_start|datum }}.
LETTER_FILTERS: Mapping[str, Any] = {
    "datum": datum,
    "bedrag": bedrag,
    "status": status,
    "dreiging": dreiging,
    "opsomming": opsomming,
}


@cache
def _environment() -> jinja2.Environment:
    """Jinja's immutable sandbox with no globals, no tests and only the letter formats.

    Texts are checked against the letter language before they are compiled (text_rules.check_text); the sandbox is
    the second wall: no attribute starting with an underscore, no Python internals, no changing a value, and none of
    Jinja's default globals (cycler, joiner, lipsum, range, dict, namespace) to start from.
    """
    env = ImmutableSandboxedEnvironment(
        autoescape=False,  # the output is plain text, not HTML; the PDF renderer escapes every string
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals.clear()
    env.filters = dict(LETTER_FILTERS)
    env.tests = {}
    return env


# -- loading -----------------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[tuple[str, Path], LetterTemplate] = {}


#: Texts an administrator stored (schulden/letters/text_versions.py), newest version per type; they win over the
#: files. Replaced as a whole when the stored set changes (`use_stored_texts`), so a reader sees one set or the other.
_stored: dict[str, LetterTemplate] = {}
_stored_marker: list[int | None] = [None]


def stored_marker() -> int | None:
    """Which stored set this process uses (the newest stored row's id), None for the files only."""
    return _stored_marker[0]


def use_stored_texts(texts: dict[str, str], marker: int | None) -> None:
    """Use these stored texts (type -> full text) from now on in this process; each was checked when stored."""
    global _stored
    parsed: dict[str, LetterTemplate] = {}
    for letter_type, text in texts.items():
        try:
            parsed[letter_type] = parse_template_text(letter_type, text)
        except LetterTextError:
            # A text stored before today's rules (or written to the table by hand) that they refuse: the shipped
            # file is used instead, so no letter is made from it. Beheer shows the refusal on the template page.
            log.warning("stored letter text refused by the letter rules; using the shipped file", extra={
                "letter_type": letter_type})  # fmt: skip
    _stored = parsed
    _stored_marker[0] = marker


def parse_template_text(letter_type: str, text: str) -> LetterTemplate:
    """Parse and check a full letter text (header, `---`, body) as the files are checked; LetterTextError if not."""
    if letter_type not in LETTER_TYPES:
        raise LetterTextError(f"unknown letter type {letter_type!r}")
    return _parse_text(letter_type, text.replace("\r\n", "\n").replace("\r", "\n"), f"{letter_type}.txt")


def file_template(letter_type: str) -> LetterTemplate:
    """The text as shipped in schulden/letters/texts, whatever is stored."""
    return load_template(letter_type, texts_dir=TEXTS_DIR)


def load_template(letter_type: str, *, texts_dir: Path | None = None) -> LetterTemplate:
    """The text of one letter type, parsed and compiled: the newest stored version when there is one (and no
    directory is asked for), else the file (cached per process)."""
    if letter_type not in LETTER_TYPES:
        raise LetterTextError(f"unknown letter type {letter_type!r}")
    if texts_dir is None and letter_type in _stored:
        return _stored[letter_type]
    directory = (texts_dir or TEXTS_DIR).resolve()
    key = (letter_type, directory)
    with _lock:
        found = _loaded.get(key)
        if found is None:
            found = _loaded[key] = _parse_file(letter_type, directory / f"{letter_type}.txt")
    return found


def _parse_file(letter_type: str, path: Path) -> LetterTemplate:
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    return _parse_text(letter_type, text, path.name)


class _Named:
    """Stands in for a Path in the parser's messages (`name`)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _parse_text(letter_type: str, text: str, name: str) -> LetterTemplate:
    """Read the header, check subject and body against the letter language, compile both in the sandbox.

    Messages are Dutch: administrators read them on the Beheer page when they save a text.
    """
    path = _Named(name)
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise LetterTextError(f"{path.name}: er staat geen regel '---' tussen de kop en de tekst")
    meta: dict[str, str] = {}
    subject_line = 1
    for number, line in enumerate(head.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon or key not in _HEADER_KEYS:
            raise LetterTextError(
                f"{path.name} regel {number}: verwacht een van {', '.join(sorted(_HEADER_KEYS))} met een dubbele punt"
            )
        if key in meta:
            raise LetterTextError(f"{path.name} regel {number}: {key} staat er twee keer")
        meta[key] = value.strip()
        if key == "onderwerp":
            subject_line = number
    for key in ("titel", "versie", "onderwerp"):
        if not meta.get(key):
            raise LetterTextError(f"{path.name}: de kop heeft geen {key}")
    if not _VERSION_RE.fullmatch(meta["versie"]):
        raise LetterTextError(f"{path.name}: versie moet een heel getal zijn (1, 2, 3, ...), niet {meta['versie']!r}")
    required = tuple(
        dict.fromkeys(REQUIRED_FIELDS + tuple(n.strip() for n in meta.get("verplicht", "").split(",") if n.strip()))
    )
    unknown_required = [n for n in required if n not in KNOWN_FIELDS]
    if unknown_required:
        raise LetterTextError(f"{path.name}: verplicht noemt onbekende gegevens: {', '.join(unknown_required)}")
    env = _environment()
    body_first_line = head.count("\n") + 3  # the header's lines, then the line '---'
    names = KNOWN_FIELDS | LETTER_NAMES
    try:
        subject_tree = env.parse(meta["onderwerp"])
        body_tree = env.parse(body)
        check_text(subject_tree, fields=names, filters=LETTER_FILTERS, first_line=subject_line, label="het onderwerp")
        check_text(body_tree, fields=names, filters=LETTER_FILTERS, first_line=body_first_line)
        subject_template = env.from_string(subject_tree)
        body_template = env.from_string(body_tree)
    except jinja2.TemplateSyntaxError as exc:
        first = subject_line if exc.source == meta["onderwerp"] else body_first_line
        raise LetterTextError(
            f"{path.name} regel {first + (exc.lineno or 1) - 1}: de tekst klopt niet ({exc.message})"
        ) from exc
    except TextRuleError as exc:
        raise LetterTextError(f"{path.name}: {exc}") from exc
    return LetterTemplate(
        letter_type=letter_type,
        title=meta["titel"],
        version=meta["versie"],
        subject=meta["onderwerp"],
        body=body,
        required=required,
        subject_template=subject_template,
        body_template=body_template,
    )


# -- rendering ---------------------------------------------------------------------------------------------------------


def render_text(
    content: LetterContent, *, texts_dir: Path | None = None, template: LetterTemplate | None = None
) -> RenderedText:
    """The letter's title, subject and body blocks, with every value filled in and formatted the Dutch way.

    `template` renders a text that is not (yet) in use, for the preview of a changed text in Beheer.
    """
    if template is None:
        template = load_template(content.letter_type, texts_dir=texts_dir)
    context = _context(content, template)
    missing = [name for name in template.required if _is_empty(context.get(name))]
    if missing:
        raise MissingField(f"{content.letter_type} needs the field(s) {', '.join(missing)}")
    values: list[str] = []
    context[_VALUES_KEY] = values
    subject = template.subject_template.render(context)
    body = template.body_template.render(context)
    return RenderedText(
        title=template.title,
        subject=_fill(subject, values),
        version=template.version,
        blocks=_blocks(body, values),
    )


def _is_empty(value: Any) -> bool:
    """None, or an empty text, list or mapping: a required field like that is as good as missing."""
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


def _context(content: LetterContent, template: LetterTemplate) -> dict[str, Any]:
    unknown = sorted(set(content.fields) - KNOWN_FIELDS)
    if unknown:
        raise LetterTextError(f"unknown merge field(s) {unknown}; known: {sorted(KNOWN_FIELDS)}")
    context: dict[str, Any] = {**FIELD_DEFAULTS, **content.fields}
    context.update(
        letter_type=content.letter_type,
        letter_date=content.date,
        our_reference=content.our_reference,
        their_reference=content.their_reference,
        sender_name=content.sender.lines[0],
        recipient_name=content.recipient.lines[0],
        counsellor=content.sender_contact[0] if content.sender_contact else None,
        debts=content.debts,
        debts_total_cents=content.debts_total_cents,
        attachments=content.attachments,
        reply_code=content.reply_code,
        text_version=f"{template.letter_type} versie {template.version}",
        arrangement_total_cents=None,
        arrangement_end=None,
        wgs_urgent=context["threat"] in WGS_URGENT_THREATS,
    )
    arrangement = context["arrangement"]
    if arrangement is not None:
        try:
            monthly, months, start = arrangement["monthly_cents"], arrangement["months"], arrangement["start_date"]
        except KeyError as exc:
            raise LetterTextError(f"arrangement needs monthly_cents, months and start_date; {exc} is missing") from None
        context["arrangement_total_cents"] = monthly * months
        context["arrangement_end"] = add_months(start, months - 1)
    return context


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the last day of that month (31 January + 1 = 28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _fill(text: str, values: list[str]) -> str:
    """Swap the tokens back for their (already clean) values and collapse whitespace."""
    return _SPACES_RE.sub(" ", _TOKEN_RE.sub(lambda m: values[int(m.group(1))], text)).strip()


def _blocks(body: str, values: list[str]) -> tuple[Block, ...]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    items: list[str] = []
    checkbox = False
    rows: list[tuple[str, str]] = []

    def flush() -> None:
        nonlocal checkbox
        if paragraph:
            blocks.append(Paragraph(_fill(" ".join(paragraph), values)))
            paragraph.clear()
        if items:
            blocks.append(BulletList(tuple(_fill(i, values) for i in items), checkbox=checkbox))
            items.clear()
        if rows:
            blocks.append(Facts(tuple((_fill(label, values), _fill(value, values)) for label, value in rows)))
            rows.clear()

    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("# "):
            flush()
            blocks.append(Heading(_fill(stripped[2:], values)))
        elif stripped == _DEBT_TABLE_LINE:
            flush()
            blocks.append(DebtTable())
        elif stripped.startswith(("- ", "[ ] ")):
            is_checkbox = stripped.startswith("[ ] ")
            if paragraph or rows or (items and checkbox != is_checkbox):
                flush()
            checkbox = is_checkbox
            items.append(stripped[4:] if is_checkbox else stripped[2:])
        elif stripped.startswith("|"):
            if paragraph or items:
                flush()
            label, _, value = stripped[1:].partition("|")
            rows.append((label, value.removesuffix("|")))
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + stripped  # an indented line continues the bullet above it
        else:
            if items or rows:
                flush()
            paragraph.append(stripped)
    flush()
    return tuple(blocks)
