"""Which JPKI certificates the platform trusts: the configured anchors and CRLs, or the development test CA.

The store is rebuilt whenever a configured file (or a CRL folder's content) changes, so a CRL refreshed by a
job is used at the next sign-in without a restart.
"""

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from madoguchi.identity.jpki import TestCA, TrustStore
from madoguchi.identity.jpki.errors import JpkiError


class TrustNotConfigured(JpkiError):
    code = "trust_not_configured"
    message_ja = "電子証明書の信頼点が設定されていません。運用担当者にお問い合わせください。"
    message_en = "No JPKI trust anchors are configured. Please contact the operator."


def _files(paths: list[Path]) -> tuple[tuple[str, float], ...]:
    found: list[tuple[str, float]] = []
    for path in paths:
        candidates = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        found += [(str(p), p.stat().st_mtime) for p in candidates if p.exists()]
    return tuple(found)


@lru_cache(maxsize=4)
def _build(anchors: tuple, crls: tuple, intermediates: tuple) -> TrustStore:
    return TrustStore.from_files(
        [Path(p) for p, _ in anchors],
        [Path(p) for p, _ in crls],
        intermediate_paths=[Path(p) for p, _ in intermediates],
    )


def trust_store() -> TrustStore:
    """The TrustStore for this moment. Raises TrustNotConfigured when there is nothing to trust."""
    crl_sources = [Path(p) for p in settings.JPKI_CRL_FILES]
    if settings.JPKI_CRL_DIR.is_dir():
        crl_sources.append(settings.JPKI_CRL_DIR)
    if settings.JPKI_TRUST_ANCHORS:
        anchors, intermediates = [Path(p) for p in settings.JPKI_TRUST_ANCHORS], []
    else:
        try:
            ca = TestCA.load(settings.JPKI_TEST_CA_DIR)
        except (FileNotFoundError, ValueError, JpkiError):
            raise TrustNotConfigured("no anchors and no test CA") from None
        anchors, intermediates = [ca.root_path], [ca.issuing_path]
        crl_sources.append(ca.crl_dir)
    return _build(_files(anchors), _files(list(dict.fromkeys(crl_sources))), _files(intermediates))
