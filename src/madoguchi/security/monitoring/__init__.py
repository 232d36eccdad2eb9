"""Security monitoring engine (自治体情報セキュリティクラウド): pure parsing, detection and STIX 2.1.

No Django here: the functions take and return plain data, so they run in the bench, in tests and in any
worker without a database. `monitoring_services.py` persists what they find.
"""

from madoguchi.security.monitoring.rules import (
    DEFAULT_EXECUTABLE_EXTENSIONS,
    Finding,
    QuarantineEvent,
    SignInEvent,
    detect_beaconing,
    detect_blocklisted,
    detect_executables,
    detect_proxy,
    detect_quarantined_files,
    detect_sign_in_bursts,
    parse_blocklist,
)
from madoguchi.security.monitoring.squid import Malformed, ProxyLog, parse_squid, url_host
from madoguchi.security.monitoring.stix import StixError, new_id, stix_timestamp, validate_bundle

__all__ = [
    "DEFAULT_EXECUTABLE_EXTENSIONS",
    "Finding",
    "Malformed",
    "ProxyLog",
    "QuarantineEvent",
    "SignInEvent",
    "StixError",
    "detect_beaconing",
    "detect_blocklisted",
    "detect_executables",
    "detect_proxy",
    "detect_quarantined_files",
    "detect_sign_in_bursts",
    "new_id",
    "parse_blocklist",
    "parse_squid",
    "stix_timestamp",
    "url_host",
    "validate_bundle",
]
