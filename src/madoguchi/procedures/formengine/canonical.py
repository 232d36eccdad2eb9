"""Canonical JSON: the bytes that are hashed (definitions) and signed (submissions)."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

__all__ = ["canonical_bytes", "canonical_json", "canonical_json_trusted"]

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _canon(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object keys must be str, not {type(k).__name__}")
            nk = unicodedata.normalize("NFC", k)
            if nk in out:
                raise ValueError(f"two keys are equal after NFC normalisation: {nk!r}")
            out[nk] = _canon(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    # Floats have no single canonical text; answers never hold them (numbers are integers).
    raise TypeError(f"{type(value).__name__} cannot be put in canonical JSON")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with keys sorted (by code point), no insignificant whitespace, no ASCII escaping and every
    string (keys too) NFC-normalised. Only dict, list/tuple, str, int, bool and None are accepted."""
    return _dumps(_canon(value)).encode("utf-8")


def canonical_json_trusted(value: Any) -> bytes:
    """``canonical_json`` for values built by this package (JSON types only, no floats, str keys).

    Fast path: when the serialised text is already NFC, so is every string in it (each string sits between
    quotes, which neither compose nor reorder with their neighbours), and the text is the canonical form.
    Otherwise it normalises string by string like ``canonical_json``.
    """
    text = _dumps(value)
    if unicodedata.is_normalized("NFC", text):
        return text.encode("utf-8")
    return canonical_json(value)


def canonical_bytes(*, definition_sha256: str, procedure_code: str, answers: dict[str, Any]) -> bytes:
    """What the applicant signs: ``{"answers", "form", "procedure", "v": 1}`` in canonical JSON."""
    if not isinstance(definition_sha256, str) or not _SHA256_HEX.fullmatch(definition_sha256):
        raise ValueError("definition_sha256 must be 64 lower-case hex digits")
    if not isinstance(procedure_code, str) or not procedure_code:
        raise ValueError("procedure_code must be a non-empty str")
    if not isinstance(answers, dict):
        raise TypeError("answers must be a dict")
    return canonical_json(
        {"answers": answers, "form": definition_sha256, "procedure": procedure_code, "v": 1}
    )
