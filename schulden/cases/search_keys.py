"""The search keys of a name: how a surname is stored for search and how what a person types is read, so that
"Ĳzerman", "IJzerman" and "ijzerman" are one name, and "de Vries" and "Vries" both find "P. de Vries".

A key is the name folded (`fold`): compatibility-decomposed (NFKD: the IJ ligature "Ĳ" becomes "IJ", "ﬁ" becomes
"fi", "é" becomes "e" plus an accent), the accents dropped, case-folded ("ß" becomes "ss"), apostrophes dropped
("O'Neill" is "oneill") and every other non-letter a single space ("Jansen-de Vries" is "jansen de vries").
Folding happens in Python, once when the name is written (an ORM hook in schulden.cases.models) and once for the
search text, never in SQL: SQLite's lower() folds ASCII only, and the two databases would not fold alike.

A detainee has two keys, both prefix-searched: the surname without its tussenvoegsel ("vries") and the tussenvoegsel
with the surname ("de vries"). Why two columns rather than one column holding both: a prefix search is a range on a
btree index (everything from "vries" up to "vries" followed by the highest character), and one index entry can start
with one of the two only; a second column with its own index keeps both searches an index range (see
`schulden.cases.queries._name_starts_with`).
"""

from __future__ import annotations

import unicodedata

#: Room for a folded name: 40 characters of tussenvoegsel and 200 of surname, which folding may lengthen (ß -> ss).
KEY_LENGTH = 300
#: Above every character a key can hold: "starts with p" is the range p <= key < p + TOP (compared bytewise, UTF-8).
TOP = "\U0010ffff"
#: Apostrophes join rather than separate: "O'Neill" is searched as "oneill", "'t Hart" as "t hart".
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2019\u2018`\u00b4\u02bc\u02b9\u2032"), None)
#: The ligature is folded explicitly (NFKD does it too): it is the case users name (ux.md, Searching).
_IJ = str.maketrans({"\u0132": "ij", "\u0133": "ij"})
#: Latin letters with a stroke or joined letters that Unicode does not decompose, read as people type them without
#: the mark ("Øster" is "oster", "Łukasz" is "lukasz").
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h", "ŧ": "t", "ƀ": "b"}
    | {"\u0131": "i"}  # the dotless i
)


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.translate(_IJ))
    # Case-folding may produce letters that decompose further: decompose once more before dropping accents, and
    # drop apostrophes only then (decomposition makes some: "\u0149" is apostrophe + n).
    text = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSED)).translate(_APOSTROPHES)
    letters = (ch if ch.isalpha() else " " for ch in text if not unicodedata.combining(ch))
    return " ".join("".join(letters).split())


def fold(text: str) -> str:
    """`text` as a search key: lower-case letters without accents, words separated by one space, at most
    KEY_LENGTH characters. The same for every spelling a person may type of the same name; fold(fold(x)) == fold(x).
    """
    folded = _fold_once(text)
    # Unicode's case-folding and decomposition are each stable, their combination nearly so: go on to the fixed
    # point (one more round at most in practice) so that a stored key folds to itself.
    for _ in range(3):
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded[:KEY_LENGTH].rstrip()


def surname_keys(surname_prefix: str | None, surname: str) -> tuple[str, str]:
    """The two keys of a name: the surname alone and "tussenvoegsel surname" (the same when there is none)."""
    core = fold(surname)
    full = fold(f"{surname_prefix or ''} {surname}")
    return core, full


def prefix_bounds(key: str) -> tuple[str, str]:
    """The range of keys that start with `key` (a folded text): low <= k < high."""
    return key, key + TOP
