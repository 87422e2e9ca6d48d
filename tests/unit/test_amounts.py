"""The one amount parser (schulden/amounts.py): Dutch amounts in, whole cents out, everything else a ValueError
with a Dutch message. Security review item 7: `NaN`, `Infinity`, `1e400`, `1E+30`, `sNaN` and 40 digits answered
500 on the forms, and `1,5e3` was read as € 1.500."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from schulden.amounts import MAX_CENTS, euro_to_cents, format_euro

ACCEPTED = [
    ("0", 0),
    ("0,00", 0),
    ("0,01", 1),
    ("1,5", 150),
    ("1,50", 150),
    ("12", 1200),
    ("1234", 123_400),
    ("1234,5", 123_450),
    ("1.234", 123_400),  # a dot before three digits separates thousands
    ("12.500", 1_250_000),
    ("1.234,50", 123_450),
    ("1.234.567,89", 123_456_789),
    ("12.50", 1250),  # a dot before two digits can only be the decimal sign
    ("0.99", 99),
    ("1.23", 123),
    ("€ 12", 1200),
    ("€12,50", 1250),
    ("€\xa01.234,56", 123_456),  # as our own pages print it
    ("  7,25 \n", 725),
    ("10.000.000,00", MAX_CENTS),
    ("10000000", MAX_CENTS),
]

REFUSED = [
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "sNaN",
    "1e400",
    "1E+30",
    "1e3",
    "1,5e3",
    "1.5e3",
    "9" * 40,
    "10.000.000,01",
    "10000001",
    "-1",
    "-0",
    "+1",
    "\u22121",  # the minus sign
    "1,505",
    "1,",
    ",50",
    "12.5",
    "1.234.56",
    "1.23.456",
    "0.500",  # ambiguous: half a euro in English, 500 euro in Dutch
    "1.234.5678",
    "1,234.50",  # English order
    "1 234",
    "12,50 €",
    "EUR 12",
    "€€12",
    "\uff11\uff12",  # full-width digits
    "\u0661\u0662",  # Arabic-Indic digits
    "12\x00",
    "0x10",
    "1_000",
    "",
    "   ",
    "€",
    "twaalf",
]


@pytest.mark.parametrize(("text", "cents"), ACCEPTED)
def test_dutch_amounts_are_read_as_cents(text: str, cents: int) -> None:
    assert euro_to_cents(text) == cents


@pytest.mark.parametrize("text", REFUSED)
def test_everything_else_is_refused_with_a_dutch_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"^Vul een bedrag in euro in") as refused:
        euro_to_cents(text)
    assert type(refused.value) is ValueError


def test_the_message_names_the_rule_that_was_broken() -> None:
    with pytest.raises(ValueError, match="hooguit twee cijfers achter de komma"):
        euro_to_cents("1,505")
    with pytest.raises(ValueError, match=re.escape("hoogstens € 10.000.000,00")):
        euro_to_cents("9" * 40)
    with pytest.raises(ValueError, match="nooit negatief"):
        euro_to_cents("-12,50")
    with pytest.raises(ValueError, match="komma voor de centen en eventueel punten tussen de duizendtallen"):
        euro_to_cents("1,5e3")


def test_the_forms_and_the_api_share_the_bound_and_it_fits_the_column() -> None:
    from marshmallow import ValidationError

    from schulden.fields import Cents

    assert Cents().deserialize(MAX_CENTS) == MAX_CENTS
    with pytest.raises(ValidationError):
        Cents().deserialize(MAX_CENTS + 1)
    assert MAX_CENTS < 2**63  # BIGINT


@given(st.integers(min_value=0, max_value=MAX_CENTS))
@example(0)
@example(MAX_CENTS)
@example(100_000)
def test_every_amount_written_the_dutch_way_reads_back(cents: int) -> None:
    text = format_euro(cents)  # 1.234,50
    assert euro_to_cents(text) == cents
    assert euro_to_cents("€ " + text) == cents
    assert euro_to_cents(text.replace(".", "")) == cents  # without thousands separators
    if cents % 100 == 0:
        assert euro_to_cents(text.removesuffix(",00")) == cents
    if cents % 10 == 0:
        assert euro_to_cents(text[:-1]) == cents  # 12,5
    if cents < 100_000:  # no thousands separator: the English decimal point is read too
        assert euro_to_cents(text.replace(",", ".")) == cents


@given(st.integers(min_value=MAX_CENTS + 1, max_value=10**40))
def test_amounts_above_the_bound_are_refused(cents: int) -> None:
    with pytest.raises(ValueError, match="hoogstens"):
        euro_to_cents(format_euro(cents))


_AMOUNTISH = st.text(alphabet="0123456789.,€ eE+-NaInfitys\xa0\u0661\uff12", max_size=30)


@given(st.one_of(st.text(max_size=60), _AMOUNTISH))
@example("1,5e3")
@example("sNaN")
@example("9" * 5000)
def test_any_text_is_cents_in_range_or_a_value_error(text: str) -> None:
    try:
        cents = euro_to_cents(text)
    except ValueError as exc:
        message = str(exc)
    else:
        message = ""
        assert isinstance(cents, int)
        assert 0 <= cents <= MAX_CENTS
        assert set(text.strip().removeprefix("€").strip()) <= set("0123456789.,")
    if message:
        assert message.startswith("Vul een bedrag in euro in")
