"""Letter texts cannot run code (issue 10, item 1; docs/security.md, issue 10 items outside the numbered scenarios).

An administrator's text is checked against the letter language before it is stored, with a Dutch message naming the
line; the renderer compiles texts in Jinja's immutable sandbox without globals as a second wall. The payloads are the
known escapes from a Jinja template to Python: the globals of `cycler`, `joiner`, `lipsum` and `self`, the `attr`
and `format` filters, walking `__class__.__mro__`, and the blocks that reach files or define code.
"""

from __future__ import annotations

import jinja2
import jinja2.sandbox
import pytest

from schulden.letters import templates
from schulden.letters.content import LETTER_TYPES
from schulden.letters.templates import (
    LetterTextError,
    file_template,
    parse_template_text,
    render_text,
    stored_marker,
    use_stored_texts,
)
from tests.unit.test_letter_templates import make_content

HEADER = "titel: Test\nversie: 2\nonderwerp: Test {{ client_name }}\n---\n"

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.getuid() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.environ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ lipsum.__globals__.os.environ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ client_name.__class__.__mro__[1].__subclasses__() }}",
    "{{ client_name|attr('__class__') }}",
    "{{ client_name|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ '%s'|format(client_name.__class__) }}",
    "{{ '{0.__class__}'.format(client_name) }}",
    "{{ client_name.format_map }}",
    "{{ debts[0] }}",
    "{{ arrangement['__class__'] }}",
    "{{ arrangement.__class__ }}",
    "{{ arrangement.items() }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ client_name ~ client_name }}",
    "{{ config }}",
    "{{ request }}",
    "{% set x = cycler %}{{ x }}",
    "{% set x %}{{ client_name }}{% endset %}",
    "{% include '/etc/passwd' %}",
    "{% import 'L1.txt' as l %}",
    "{% from 'L1.txt' import x %}",
    "{% extends 'L1.txt' %}",
    "{% macro m() %}x{% endmacro %}",
    "{% filter upper %}{{ client_name }}{% endfilter %}",
    "{% with x = cycler %}{{ x }}{% endwith %}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{% for item in household recursive %}{{ loop(item) }}{% endfor %}",
    "{% for item in household if item.__class__ %}{{ item }}{% endfor %}",
    "{% for item in household %}{{ loop.cycle }}{% endfor %}",
    "{% for item in household %}{{ item.__class__ }}{% endfor %}",
    "{% if client_name is defined %}ja{% endif %}",
    "{% if client_name.startswith('A') %}ja{% endif %}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_a_text_that_reaches_past_the_merge_fields_is_refused_in_dutch(payload: str) -> None:
    with pytest.raises(LetterTextError) as caught:
        parse_template_text("L2", HEADER + "Geachte heer, mevrouw,\n\n" + payload + "\n")
    message = str(caught.value)
    # The line in the whole text as the administrator sees it (header included), and a Dutch sentence.
    assert "Regel 7 (de tekst):" in message or "regel 7: de tekst klopt niet" in message, message


@pytest.mark.parametrize("payload", ["{{ cycler.__init__.__globals__.os.getuid() }}", "{{ lipsum }}"])
def test_the_subject_line_is_checked_too(payload: str) -> None:
    with pytest.raises(LetterTextError, match="onderwerp"):
        parse_template_text("L2", f"titel: Test\nversie: 2\nonderwerp: {payload}\n---\nTekst\n")


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_every_shipped_text_is_within_the_letter_language(letter_type: str) -> None:
    text = (templates.TEXTS_DIR / f"{letter_type}.txt").read_text(encoding="utf-8")
    assert parse_template_text(letter_type, text).version == file_template(letter_type).version


def test_the_letter_language_itself_still_works() -> None:
    body = (
        "{% if threat and round > 1 %}Dringend: {{ threat|dreiging }}.{% elif not bsn %}Gewoon.{% else %}Anders."
        "{% endif %}\n\n{% for person in household %}\n- {{ person }}\n{% endfor %}\n"
        "{% if arrangement %}{{ arrangement.monthly_cents|bedrag }}{% endif %}\n"
    )
    template = parse_template_text("L2", HEADER + body)
    rendered = render_text(make_content("L2", household=["Partner"], threat="eviction", round=2), template=template)
    text = " ".join(str(block) for block in rendered.blocks)
    assert "Dringend: een huisuitzetting." in text
    assert "Partner" in text


@pytest.mark.parametrize(
    "source",
    [
        "{{ cycler }}",
        "{{ lipsum }}",
        "{{ range }}",
        "{{ client_name.__class__ }}",
        "{{ client_name|attr('__class__') }}",
        "{{ '{0.__class__.__mro__}'.format(client_name) }}",
        "{{ household.append('x') }}",
    ],
)
def test_the_sandbox_holds_even_for_a_text_that_skipped_the_check(source: str) -> None:
    """Second wall: compiled straight in the renderer's environment, none of these reaches Python."""
    env = templates._environment()
    assert isinstance(env, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert env.globals == {}
    with pytest.raises((jinja2.TemplateError, jinja2.sandbox.SecurityError)):
        env.from_string(source).render(client_name="Jan", household=[], _schuldroute_values=[])


def test_a_stored_text_that_breaks_the_rules_is_not_used() -> None:
    """A row stored before these rules (or written by hand) falls back to the shipped file; nothing runs."""
    before = stored_marker()
    try:
        use_stored_texts({"L2": HEADER + "{{ cycler.__init__.__globals__.os.getuid() }}\n"}, 999_999)
        assert templates.load_template("L2").version == file_template("L2").version
        rendered = render_text(make_content("L2"))
        assert "Test" not in rendered.subject
    finally:
        use_stored_texts({}, before)
