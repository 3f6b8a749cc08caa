"""Vietnamese unit names and agency codes, normalised for matching (pure text functions).

Real sources spell the same unit in several ways: NFC or NFD, upper or lower case, the
old or the new tone-mark placement (`Hoà` / `Hòa`, `Thuỷ` / `Thủy`: both in use, and the
two reference packages disagree on 38 communes), with or without the body's title
(`UBND xã Đông Thái`), the unit type (`xã`, `phường`, `thị trấn`, `đặc khu`, `tỉnh`,
`thành phố`) and the province after a dash (`UBND xã Đông Thái - tỉnh An Giang`).
`name_key` maps all of them to one key; `display_name` only fixes the Unicode form.
"""

from __future__ import annotations

import re
import unicodedata

# Tone marks (dấu thanh) as combining characters; the other marks (circumflex, breve,
# horn) belong to the vowel and stay where they are.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}

# Words before the proper name, longest first. "ủy ban nhân dân" comes in both spellings.
_TITLES = ("ủy ban nhân dân", "uỷ ban nhân dân", "ubnd")
_UNIT_TYPES = ("thành phố trung ương", "thành phố", "thị trấn", "thị xã", "đặc khu", "tỉnh",
               "phường", "quận", "huyện", "xã", "tp.", "tp")
_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[\-‐–—'’`.,()]")


def display_name(name: str) -> str:
    """A name as we store and show it: NFC, single spaces, no edge blanks."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()


def _tone_independent(word: str) -> str:
    """One syllable with its tone mark moved to the end (so `hoà` and `hòa` agree)."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in _TONES]
    rest = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", rest + "".join(tones))


def _strip_prefix(text: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if text == prefix or text.startswith(prefix + " "):
            return text[len(prefix):].strip()
    return text


def name_key(name: str, *, keep_type: bool = False) -> str:
    """The key two spellings of one unit's name share, within its parent.

    Drops the body's title, the province after " - ", the unit type (unless `keep_type`)
    and punctuation; lower case; tone marks placed canonically. Numbers stay
    (`Phường 1` → `1`).
    """
    text = re.sub(r"\.(?=\S)", ". ", display_name(name).lower())  # "tp.huế" -> "tp. huế"
    text = _strip_prefix(text, _TITLES)
    if " - " in text:  # "xã đông thái - tỉnh an giang": the part after names the parent
        head, _, tail = text.partition(" - ")
        if _strip_prefix(tail, _UNIT_TYPES) != tail:
            text = head
    if not keep_type:
        text = _strip_prefix(text, _UNIT_TYPES)
    text = _PUNCTUATION.sub(" ", text)
    return " ".join(_tone_independent(word) for word in text.split())


def without_suffix(name: str) -> str | None:
    """The name before its last " - " (`UBND xã Đông Thái - An Giang` → `UBND xã Đông
    Thái`), or None without one; a second key to try, since some names hold a dash
    themselves (`Phường Văn Miếu - Quốc Tử Giám`)."""
    head, dash, _ = display_name(name).rpartition(" - ")
    return head if dash and head else None


def ascii_key(text: str) -> str:
    """Letters and digits without any mark, e.g. `tinhangiang` (the key scheme of the
    vietnamadminunits package, which also holds a few unconverted keys)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def agency_code(code: str | None) -> str | None:
    """The portal agency code (mã định danh, QCVN 102) in its short form.

    The legacy gateway sends some in the long fixed-width form, levels right to left:
    `000.00.00.H37` → `H37`, `000.00.13.H37` → `H37.13`, `000.05.13.H37` → `H37.13.05`.
    Short forms pass unchanged (upper case, no blanks); empty → None.
    """
    if code is None:
        return None
    text = str(code).strip().upper().replace(" ", "")
    if not text:
        return None
    parts = text.split(".")
    if len(parts) > 1 and parts[-1].startswith("H") and all(p.isdigit() for p in parts[:-1]):
        levels = [p for p in reversed(parts[:-1]) if int(p) != 0]
        return ".".join([parts[-1], *levels])
    return text
