"""The password rule for staff accounts (BIO2 5.17.03, ASVS 6.2.1/6.2.9/6.2.12), in one place.

The CLI (`schuldroute users create`), Beheer's users page and the change-password page all call `password_problems`
and show `PASSWORD_RULE` next to the field, so the rule, the check and the message cannot drift apart.

Common passwords come from the `zxcvbn` package's frequency list (30 000 passwords from real leaks, maintained
upstream, not typed in here). A password is refused when it is on that list, or is a listed password with digits
or symbols added before or after it ("Welkom2026!!!" -> "welkom"): the usual way people stretch a short favourite
to a length rule. Repetitions and runs ("aaaaaaaaaaaa", "passwordpassword", "123456789012") are refused too.
"""

from __future__ import annotations

import itertools
import re
from functools import cache

MIN_LENGTH = 12
MAX_LENGTH = 128

#: The rule in one sentence, shown as the field's hint wherever a password is chosen.
PASSWORD_RULE = (
    f"Minimaal {MIN_LENGTH} en hooguit {MAX_LENGTH} tekens; geen veelgebruikt wachtwoord, herhaling of reeks en niet "
    "de gebruikersnaam. "
    "Een zin van een paar woorden is sterk en goed te onthouden."
)

_AFFIXES = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@cache
def _common_passwords() -> frozenset[str]:
    # Imported here: the list is a 30k-entry module that only password changes need.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """True for a password on zxcvbn's list of common passwords, also with digits or symbols around it."""
    lowered = password.lower()
    common = _common_passwords()
    return lowered in common or _AFFIXES.sub("", lowered) in common


def is_pattern(password: str) -> bool:
    """True for a repetition ("aaaaaaaaaaaa", "passwordpassword") or a run ("abcdefghijkl", "123456789012")."""
    lowered = password.lower()
    period = next(p for p in range(1, len(lowered) + 1) if lowered == (lowered[:p] * len(lowered))[: len(lowered)])
    if period < len(lowered) and (period <= 4 or is_common(lowered[:period])):
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(lowered)}
    return steps <= {1} or steps <= {-1}


def password_problems(password: str, *, username: str) -> list[str]:
    """The Dutch messages for each part of the rule this password breaks; empty when it may be used."""
    if len(password) < MIN_LENGTH:
        return [f"Een wachtwoord heeft minimaal {MIN_LENGTH} tekens."]
    if len(password) > MAX_LENGTH:
        return [f"Een wachtwoord heeft hooguit {MAX_LENGTH} tekens."]
    problems = []
    if username and username.lower() in password.lower():
        problems.append("Een wachtwoord mag de gebruikersnaam niet bevatten.")
    if is_common(password):
        problems.append("Dit wachtwoord is te bekend: het staat op een lijst van veelgebruikte wachtwoorden.")
    elif is_pattern(password):
        problems.append("Dit wachtwoord is een herhaling of een reeks (zoals aaaa of 1234) en dus snel geraden.")
    return problems
