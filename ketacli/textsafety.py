"""Characters that must never reach a terminal raw, and never be typed into a record.

Control characters (C0 but tab and newline, DEL, C1: ESC sequences can move the cursor,
rewrite a line, retitle a window or plant a hyperlink in another clinician's terminal),
line/paragraph separators, bidi overrides and isolates (which reorder what a name or note
shows), zero-width and other invisible characters (a name that looks like another's), and
surrogates, private-use and unassigned code points.

`unsafe(ch)` says whether one character is such; `escape(text)` shows each as a visible
`\\x1b` / `\\u202e` escape (human output); validation refuses them on input.
"""

from __future__ import annotations

import unicodedata

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = frozenset("\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060\u2061\u2062"
                      "\u2063\u2064\u3164\ufeff\uffa0")
_UNSAFE_CATEGORIES = frozenset(("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))


def unsafe(ch: str, *, allow: str = "") -> bool:
    if ch in allow:
        return False
    return (ch in BIDI or ch in INVISIBLE
            or unicodedata.category(ch) in _UNSAFE_CATEGORIES)


def visible(ch: str) -> bool:
    """Does the character show as something (not space, control, format or a lone mark)?"""
    return unicodedata.category(ch)[0] not in "ZCM" and ch not in INVISIBLE


def escape(text: str, *, allow: str = "\n\t") -> str:
    """`text` with every unsafe character shown as a visible escape."""
    if not any(unsafe(ch, allow=allow) for ch in text):
        return text
    return "".join(_escaped(ch) if unsafe(ch, allow=allow) else ch for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
