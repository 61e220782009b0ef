"""Bytes in a declared charset → text, for any label a stranger can write. Never raises.

Labels are read the way mail clients read them (WHATWG's encoding labels, as browsers do):
``iso-8859-1`` and ``us-ascii`` are really Windows-1252 in practice (Outlook's smart quotes
in 0x80-0x9F), ``gb2312`` is decoded as its superset GB18030, ``ks_c_5601-1987`` as CP949.
A label Python does not know, or a codec that is not a text encoding (``zlib_codec``,
``unicode_escape``: a label must not run a transform on strangers' bytes), falls back to
UTF-8 when the bytes are valid UTF-8, else Windows-1252. Undecodable bytes become U+FFFD.
"""

from __future__ import annotations

import codecs
import re

#: The fallback when the label is absent or useless: most unlabelled 8-bit mail is UTF-8.
DEFAULT_CHARSET = "utf-8"
_LEGACY_FALLBACK = "cp1252"  # what the rest is, far more often than anything else

#: Labels read as another codec than Python's namesake (the superset that mailers really use).
_READ_AS: dict[str, str] = {
    "us-ascii": "utf-8",  # 8-bit bytes under an ASCII label are UTF-8 far more often
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "windows-874": "cp874",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-6-e": "iso8859-6",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-8-e": "iso8859-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "x-mac-arabic": "mac-arabic",
    "tis-620": "cp874",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
#: Text codecs Python has that no mail should pick: they interpret rather than decode.
_REFUSED_CODECS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}
)
_LABEL = re.compile(r"[A-Za-z0-9._:()+-]{1,40}")


def codec_for(label: str | None) -> str | None:
    """The Python codec to read ``label`` with, or None when it is unknown or refused."""
    if label is None:
        return None
    label = label.strip().strip("\"'").lower()
    if not _LABEL.fullmatch(label):
        return None
    label = _READ_AS.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


def decode_text(data: bytes, label: str | None) -> str:
    """``data`` as text, read in ``label`` (see the module's doc); never raises."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec, errors="replace")
        except Exception:  # noqa: BLE001 -- a codec failing even with errors="replace"
            pass
    try:
        return data.decode(DEFAULT_CHARSET)
    except UnicodeDecodeError:
        return data.decode(_LEGACY_FALLBACK, errors="replace")


def repair(text: str) -> str:
    """A str from the stdlib parser, with the raw 8-bit bytes it kept as surrogate escapes
    (``\\udcXX``) read as UTF-8: such a str could not even be encoded to be stored."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", errors="surrogateescape")
    return decode_text(raw, None)
