"""Japanese text helpers: kana conversion and the normalisation used for keyword search."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["join_voicing_marks", "normalize_search_text", "to_hiragana", "to_katakana"]

# ぁ (U+3041) … ゖ (U+3096) map to ァ (U+30A1) … ヶ (U+30F6); the iteration marks ゝゞ to ヽヾ.
_HIRA_TO_KATA: dict[int, int] = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)} | {
    0x309D: 0x30FD,
    0x309E: 0x30FE,
}
_KATA_TO_HIRA: dict[int, int] = {v: k for k, v in _HIRA_TO_KATA.items()}
_HALFWIDTH_KANA_RUN = re.compile("[\uff61-\uff9f]+")
_SPACE_BEFORE_VOICING = re.compile(r"\s+(?=[\u3099\u309a])")

# What keyword search ignores (after NFKC): middle dots, hyphens and dashes of every kind, and the
# prolonged sound mark ー, which people type as any of them (コーヒー, コ-ヒ-, ｺｰﾋｰ).
_SEARCH_DROP = dict.fromkeys(
    map(
        ord,
        "\u30fb\u00b7\u2027\u2219\u22c5\u2022"  # ・ · ‧ ∙ ⋅ •
        "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u30a0\u30fc",  # hyphens, dashes, ゠, ー
    )
)


def join_voicing_marks(text: str) -> str:
    """After NFKC a stand-alone ゛/゜ is a space and a combining mark: drop the space and compose (NFC)."""
    if "\u3099" not in text and "\u309a" not in text:
        return text
    return unicodedata.normalize("NFC", _SPACE_BEFORE_VOICING.sub("", text))


def to_katakana(text: str) -> str:
    """Hiragana and half-width katakana to full-width katakana; everything else is left as it is."""
    if not text:
        return text
    text = _HALFWIDTH_KANA_RUN.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return text.translate(_HIRA_TO_KATA)


def to_hiragana(text: str) -> str:
    """Full-width katakana that has a hiragana counterpart (ァ…ヶ, ヽヾ) to hiragana."""
    return text.translate(_KATA_TO_HIRA)


def _search_step(text: str, separator: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    # NFKC turns a stand-alone ゛/゜ into a space and a combining mark: join the mark to its kana.
    text = _SPACE_BEFORE_VOICING.sub("", text).translate(_HIRA_TO_KATA).translate(_SEARCH_DROP)
    return separator.join(text.split())


def normalize_search_text(text: str, *, keep_spaces: bool = True) -> str:
    """The form under which catalogue keywords are compared.

    NFKC, case folding, hiragana → katakana, no middle dots, hyphens or ー, and whitespace runs reduced to one
    ASCII space (or removed with ``keep_spaces=False``): 'ｲﾇ', 'いぬ' and 'イヌ' give 'イヌ'; 'ＩＮＵ', 'Inu'
    and 'inu' give 'inu'. Spaces are kept as word separators because the catalogue search matches every word
    of the keyword on its own (``.split()``). Idempotent: the steps are repeated until nothing changes,
    because removing a character can bring a voicing mark next to the kana it belongs to.
    """
    separator = " " if keep_spaces else ""
    for _ in range(8):
        step = _search_step(text, separator)
        if step == text:
            break
        text = step
    return text
