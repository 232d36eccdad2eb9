"""Writes of the 行政機関等匿名加工情報 workflow (法第109–121条), leak reports and data-subject requests.

Keyword-only, one `transaction.atomic` each, an `audit.record` in the same transaction (the municipality's
stream). The creation job is the exception that proves the rule: the engine runs outside any transaction
(it may take minutes), between two audited steps (`running`, then `done` or `failed`).

提案募集 `call_create` → 提案 `proposal_submit` → `proposal_review_start` → `proposal_checklist_save` →
`proposal_accept` / `proposal_reject` (欠格事由 refuse acceptance) → 通知 `proposal_notify` → 契約
`contract_conclude` (fee from the call's table) → `fee_paid` → 作成 `creation_job_queue` + task
`privacy.create_anonymized` (`creation_job_run`) → 提供 `provision_issue` / `provision_download` → the
匿名加工情報ファイル簿 (`RegisterEntry`, written when the job is done and when first downloaded).

Also: the 個人情報ファイル and its uploaded data and hierarchies (`file_register`, `file_upload_data`,
`file_set_hierarchy_upload` / `_rule`); proposals to use information already created (法第118条,
`proposal_submit_existing`: same review, contract and fee, no creation job); 契約の解除 (法第120条,
`contract_cancel`).

Participation (`participation.py`): a new call (`call_create`) and a new proposal (`proposal_submit`,
`proposal_submit_existing`) are refused unless the municipality is a designated city or opted in
(`participation_opt_in` / `participation_opt_out`); every other step goes on, whatever the municipality chose.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.privacy import deadlines, participation
from madoguchi.privacy.models import (
    ITEM_ROLES,
    Contract,
    CreationJob,
    DataSubjectRequest,
    LeakReport,
    PersonalInfoFile,
    Proposal,
    ProposalCall,
    Provision,
    ProvisionDownload,
    RegisterEntry,
    WorkflowParticipation,
)

S = Proposal.Status
logger = logging.getLogger(__name__)
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The fee of 法第119条. For the national government 施行令 sets it; a local government sets its own by ordinance
# (法第119条第3項), with the national figures as the standard. The figures below are those of the former
# 行政機関個人情報保護法施行令第25条 (21,000円 + 3,950円 per hour + a contractor's cost; README: sources), not
# checked against the current 施行令. A DEMO DEFAULT: every call stores its own table, set by the body.
DEFAULT_FEE_TABLE = {
    "base": 21_000,
    "per_hour": 3_950,
    "outsourcing": True,
    "basis": "デモ既定値（施行令の額を標準とした例。条例で定める額に置き換えてください）",
}

# 欠格事由 (法第113条) the business declares itself and staff confirm; and the review criteria (法第114条).
DISQUALIFICATIONS = [
    ("not_incapacitated", "未成年者・心身の故障により適正に利用できない者・破産者で復権を得ない者に該当しない（法第113条）"),
    ("no_sentence", "禁錮以上の刑又はこの法律による罰金の刑の執行を終わってから2年を経過しない者に該当しない（法第113条）"),
    ("no_cancellation", "行政機関等匿名加工情報の利用契約を解除されてから2年を経過しない者に該当しない（法第113条）"),
    ("not_antisocial", "暴力団員等の反社会的勢力に該当しない（募集要項）"),
]  # fmt: skip
REVIEW_CHECKS = [
    ("purpose_benefit", "新たな産業の創出又は活力ある経済社会若しくは豊かな国民生活の実現に資する（法第114条）"),
    ("persons_minimum", "本人の数が個人情報保護委員会規則で定める数以上である（法第114条第1項第2号）"),
    ("items_necessary", "求める項目が利用の目的に照らして必要な範囲である"),
    ("period_appropriate", "利用期間が目的に照らして必要な期間である"),
    ("safeguards_adequate", "安全管理措置（漏えい防止等）が適切である"),
    ("processing_standard", "加工の方法が基準（施行規則第62条）に適合する"),
]  # fmt: skip
CHECK_KEYS = [f"disq_{k}" for k, _label in DISQUALIFICATIONS] + [k for k, _label in REVIEW_CHECKS]
# 第118条第2項 applies 第114条第1項 only in its 第1号 and 第4号–第7号: for a proposal to use information
# already created, the number of persons and the processing method are not reviewed again.
EXISTING_REVIEW_KEYS = ("purpose_benefit", "period_appropriate", "safeguards_adequate")


def minimum_persons() -> int:
    """The number of persons a proposal's information must cover at least (法第114条第1項第2号, the number set by
    the rules of the Personal Information Protection Commission). PRIVACY_MIN_PERSONS, default 1,000: the
    figure is not in this project's sources (DOMAIN.md, the seed text), so it is a setting whose default is
    the commonly cited 1,000人; check it against the current 施行規則 before relying on it."""
    return settings.PRIVACY_MIN_PERSONS


def persons_problem(proposal: Proposal) -> str | None:
    """The automatic half of the 第2号 check: the file's number of records against the minimum (a record is
    taken for a person; staff confirm it with the checklist). None when it is met or not reviewed (第118条)."""
    if proposal.kind == Proposal.Kind.EXISTING:
        return None
    records, minimum = proposal.file.record_count, minimum_persons()
    if records >= minimum:
        return None
    return _("The file has %(records)s records; the number of persons must be at least %(minimum)s (Article 114 "
             "(1) (ii)).") % {"records": f"{records:,}", "minimum": f"{minimum:,}"}  # fmt: skip


def review_checks(proposal: Proposal) -> list[tuple[str, str]]:
    if proposal.kind == Proposal.Kind.EXISTING:
        return [(k, label) for k, label in REVIEW_CHECKS if k in EXISTING_REVIEW_KEYS]
    return list(REVIEW_CHECKS)


def check_keys(proposal: Proposal) -> list[str]:
    return [f"disq_{k}" for k, _label in DISQUALIFICATIONS] + [k for k, _label in review_checks(proposal)]


class PrivacyError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _reference(prefix: str) -> str:
    return prefix + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))


def _actor_pk(actor):
    return actor if getattr(actor, "pk", None) else None


# --- Data files -----------------------------------------------------------------------------------------------
def privacy_dir() -> Path:
    return Path(settings.PRIVACY_DIR)


def data_roots() -> list[Path]:
    """Where source data and hierarchies may be read from: the platform's privacy folder and the bundled data."""
    return [privacy_dir().resolve(), (Path(__file__).parent / "data").resolve()]


def resolve_data_path(relative: str) -> Path:
    """`relative` inside one of the data roots (no escaping with .. or symlinks), or PrivacyError."""
    if not relative or Path(relative).is_absolute():
        raise PrivacyError("path", _("The data path must be relative to a data folder."))
    for root in data_roots():
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root) and candidate.exists():
            return candidate
    raise PrivacyError("path", _("The data file %(path)s was not found.") % {"path": relative})


def _output_dir() -> Path:
    path = privacy_dir() / "output"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_items(items: list[dict]) -> list[dict]:
    """Items as stored: unique non-empty names, a known role each (see models.ITEM_ROLES)."""
    roles = {r for r, _label in ITEM_ROLES}
    clean, seen = [], set()
    for item in items:
        name = str(item.get("name", "")).strip()
        role = str(item.get("role", "")).strip()
        if not name:
            raise PrivacyError("items", _("Every item needs a column name."))
        if name in seen:
            raise PrivacyError("items", _("The item %(name)s appears twice.") % {"name": name})
        if role not in roles:
            raise PrivacyError("items", _("The item %(name)s has an unknown role %(role)s.")
                               % {"name": name, "role": role})  # fmt: skip
        seen.add(name)
        clean.append({"name": name, "role": role, "label": str(item.get("label", "")).strip() or name})
    if not clean:
        raise PrivacyError("items", _("Declare at least one item."))
    return clean


OUTPUT_DIR = "output"


def _tenant_refused(municipality, parts: tuple[str, ...]) -> bool:
    """`parts` of a path relative to the privacy folder: another body's upload, or any creation output."""
    if parts[:1] == (OUTPUT_DIR,):
        return True
    return parts[:1] == (UPLOAD_DIR,) and parts[1:2] != (municipality.code,)


def _check_tenant_path(municipality, relative: str) -> None:
    """An uploaded file is only ever used by the body that uploaded it, and a creation output (output/…) is
    never read back as source data or hierarchy. Checked on the normalised path (no `uploads/<own>/../<other>`)
    and on the resolved one (no symbolic link into another body's folder)."""
    refused = PrivacyError("path", _("The data file %(path)s was not found.") % {"path": relative})
    if not relative or Path(relative).is_absolute():
        raise PrivacyError("path", _("The data path must be relative to a data folder."))
    lexical = Path(os.path.normpath(relative)).parts
    if lexical[:1] == ("..",) or _tenant_refused(municipality, lexical):
        raise refused
    root = privacy_dir().resolve()
    resolved = (root / relative).resolve()
    if resolved.is_relative_to(root) and _tenant_refused(municipality, resolved.relative_to(root).parts):
        raise refused


def resolve_tenant_path(municipality, relative: str) -> Path:
    """`resolve_data_path` for a path stored on one body's file: also refuses another body's uploads and the
    creation outputs (see `_check_tenant_path`), on the path as written and on the file actually found."""
    _check_tenant_path(municipality, relative)
    found = resolve_data_path(relative)
    root = privacy_dir().resolve()
    if found.is_relative_to(root) and _tenant_refused(municipality, found.relative_to(root).parts):
        raise PrivacyError("path", _("The data file %(path)s was not found.") % {"path": relative})
    return found


def file_register(
    *, municipality, actor, name: str, purpose: str, items: list[dict], source_path: str = "", separator: str = ",",
    hierarchies_path: str = "", open_to_proposals: bool = False, record_count: int = 0,
) -> PersonalInfoFile:  # fmt: skip
    """Register a 個人情報ファイル. The data are uploaded afterwards (`file_upload_data`), or, for the demo and
    the command line, `source_path` names a file already in a data root."""
    items = _check_items(items)
    records = record_count
    if source_path:
        source = resolve_tenant_path(municipality, source_path)
        with source.open("rb") as fh:
            records = max(sum(1 for _line in fh) - 1, 0)
    if hierarchies_path:
        resolve_tenant_path(municipality, hierarchies_path)
    with transaction.atomic():
        found = PersonalInfoFile.objects.create(
            municipality=municipality, name=name, purpose=purpose, items=items, record_count=records,
            source_path=source_path, separator=separator, hierarchies_path=hierarchies_path,
            open_to_proposals=open_to_proposals,
        )  # fmt: skip
        audit.record(actor=actor, action="privacy.file_registered", target=found, municipality=municipality,
                     details={"name": name, "records": records, "items": items})  # fmt: skip
    return found


def _locked_file(file: PersonalInfoFile) -> PersonalInfoFile:
    return PersonalInfoFile.objects.select_for_update().select_related("municipality").get(pk=file.pk)


def file_update(*, file: PersonalInfoFile, actor, name: str, purpose: str, items: list[dict],
                record_count: int | None = None, open_to_proposals: bool | None = None) -> PersonalInfoFile:  # fmt: skip
    """Change what the register says about a file. With data uploaded, the items must still match its header
    (upload the data again to change the columns)."""
    items = _check_items(items)
    with transaction.atomic():
        file = _locked_file(file)
        if file.source_path and sorted(i["name"] for i in items) != sorted(file.item_names):
            raise PrivacyError("items", _("The items must match the columns of the uploaded data: %(columns)s.")
                               % {"columns": "、".join(file.item_names)})  # fmt: skip
        before = {"name": file.name, "purpose": file.purpose, "items": file.items, "record_count": file.record_count,
                  "open_to_proposals": file.open_to_proposals}  # fmt: skip
        file.name, file.purpose, file.items = name, purpose, items
        if record_count is not None and not file.source_path:
            file.record_count = record_count
        if open_to_proposals is not None:
            file.open_to_proposals = open_to_proposals
        # A column that is no longer a quasi-identifier or sensitive keeps no hierarchy.
        wanted = set(file.names_with_role("quasi_identifier", "sensitive"))
        dropped = {c: h for c, h in file.hierarchies.items() if c not in wanted}
        file.hierarchies = {c: h for c, h in file.hierarchies.items() if c in wanted}
        file.save()
        after = {"name": file.name, "purpose": file.purpose, "items": file.items, "record_count": file.record_count,
                 "open_to_proposals": file.open_to_proposals}  # fmt: skip
        changed = {k: after[k] for k in after if after[k] != before[k]}
        audit.record(actor=actor, action="privacy.file_updated", target=file, municipality=file.municipality,
                     details={"changed": changed, "hierarchies_dropped": sorted(dropped)})  # fmt: skip
    _remove_uploads(file, [h.get("path", "") for h in dropped.values() if h.get("kind") == "file"])
    return file


def file_set_open(*, file: PersonalInfoFile, actor, open_to_proposals: bool) -> PersonalInfoFile:
    with transaction.atomic():
        PersonalInfoFile.objects.filter(pk=file.pk).update(open_to_proposals=open_to_proposals)
        file.open_to_proposals = open_to_proposals
        audit.record(actor=actor, action="privacy.file_opened" if open_to_proposals else "privacy.file_closed",
                     target=file, municipality=file.municipality)  # fmt: skip
    return file


# --- Uploads: the file's data and its hierarchies ------------------------------------------------------------------
UPLOAD_DIR = "uploads"
ENCODINGS = {"utf-8": "utf-8-sig", "cp932": "cp932"}  # what staff choose → the codec used
SEPARATORS = [",", ";", "\t", "|"]


class UploadError(PrivacyError):
    """A refused upload: `field` is the form field the message belongs on."""

    def __init__(self, message: str, *, field: str = "data"):
        super().__init__("upload", message)
        self.field = field


def upload_max_bytes() -> int:
    return int(getattr(settings, "PRIVACY_UPLOAD_MAX_BYTES", 50 * 1024 * 1024))


def _decode(data: bytes, encoding: str) -> tuple[str, str]:
    """(text, encoding name) or UploadError naming the first line that is not valid in the encoding.
    `auto` tries UTF-8 (with or without a BOM), then Shift_JIS (cp932)."""
    if encoding not in ("auto", *ENCODINGS):
        raise UploadError(_("Unknown encoding."), field="encoding")
    tried = ["utf-8", "cp932"] if encoding == "auto" else [encoding]
    for name in tried:
        try:
            return data.decode(ENCODINGS[name]), name
        except UnicodeDecodeError:
            continue
    # Report the first bad line in the encoding the user chose (auto: UTF-8, the most likely intention).
    name = tried[0]
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode(ENCODINGS[name])
        except UnicodeDecodeError:
            label = "UTF-8" if name == "utf-8" else "Shift_JIS (cp932)"
            raise UploadError(_("Line %(line)s cannot be read as %(encoding)s. Save the file as UTF-8 or "
                                "Shift_JIS, or choose its encoding.") % {"line": number, "encoding": label},
                              field="encoding" if encoding != "auto" else "data") from None  # fmt: skip
    raise UploadError(_("The file cannot be read as text."))  # pragma: no cover (a split line always fails)


def _detect_separator(header: str, separator: str) -> str:
    if separator != "auto":
        if separator not in SEPARATORS:
            raise UploadError(_("Unknown separator."), field="separator")
        return separator
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] == 0:
        raise UploadError(
            _("No separator was found in the header line; choose the separator."), field="separator"
        )
    return best


def parse_upload(data: bytes, *, items: list[str], encoding: str = "auto", separator: str = "auto",
                 max_bytes: int | None = None, record_count: int = 0) -> dict:  # fmt: skip
    """Validate an uploaded CSV against the declared items. Returns {"text", "encoding", "separator", "rows"},
    `text` being the validated rows written again in a normalised form (see below); raises UploadError
    (Japanese when the language is Japanese) with the line that is wrong."""
    import csv
    import io

    limit = upload_max_bytes() if max_bytes is None else max_bytes
    if len(data) > limit:
        raise UploadError(_("The file is larger than %(limit)s MB.") % {"limit": f"{limit / 1024 / 1024:g}"})
    if not data.strip():
        raise UploadError(_("The file is empty."))
    text, used = _decode(data, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    header_line = text.split("\n", 1)[0].rstrip("\r")
    sep = _detect_separator(header_line, separator)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:  # pragma: no cover (data.strip() was not empty)
        raise UploadError(_("The file is empty.")) from None
    missing = [i for i in items if i not in header]
    extra = [h for h in header if h not in items]
    if missing or extra or len(set(header)) != len(header):
        raise UploadError(_("Line 1 (header) does not match the declared items. Missing: %(missing)s. "
                            "Not declared: %(extra)s.") % {"missing": "、".join(missing) or "—",
                                                           "extra": "、".join(extra) or "—"})  # fmt: skip
    # What is stored is what was validated: the parsed rows written again (csv.writer, the same separator,
    # quotes where needed, "\n" line ends) under the normalised header, so that polars reads exactly these
    # fields (a stray quote such as x"y, accepted by the csv module, is quoted; header spaces are gone).
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=sep, quotechar='"', quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(header)
    rows = 0
    line = 2
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                line = reader.line_num + 1
                continue
            if len(row) != len(header):
                raise UploadError(_("Line %(line)s has %(found)s fields; the header has %(expected)s.")
                                  % {"line": line, "found": len(row), "expected": len(header)})  # fmt: skip
            writer.writerow(row)
            rows += 1
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UploadError(
            _("Line %(line)s is not valid CSV (%(error)s).") % {"line": line, "error": exc}
        ) from None
    if rows == 0:
        raise UploadError(_("The file has a header but no records."))
    if record_count and rows != record_count:
        raise UploadError(_("The file has %(rows)s records; %(declared)s were declared. Correct the declared "
                            "number of records or the file.") % {"rows": rows, "declared": record_count})  # fmt: skip
    return {"text": out.getvalue(), "encoding": used, "separator": sep, "rows": rows}


def _upload_dir(municipality) -> Path:
    path = privacy_dir() / UPLOAD_DIR / municipality.code
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_upload(municipality, stem: str, text: str) -> tuple[str, str]:
    """Write UTF-8 text atomically under uploads/<code>/ (mode 0600); (relative path, SHA-256)."""
    folder = _upload_dir(municipality)
    body = text.encode("utf-8")
    name = f"{stem}-{secrets.token_hex(8)}.csv"
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        fh.write(body)
    os.chmod(tmp, 0o600)
    os.replace(tmp, folder / name)
    return f"{UPLOAD_DIR}/{municipality.code}/{name}", hashlib.sha256(body).hexdigest()


def _remove_uploads(file: PersonalInfoFile, relatives: list[str]) -> None:
    """Delete replaced uploads of this body (never a bundled file or another body's)."""
    root = (privacy_dir() / UPLOAD_DIR / file.municipality.code).resolve()
    for relative in relatives:
        if not relative or Path(relative).parts[:2] != (UPLOAD_DIR, file.municipality.code):
            continue
        path = (privacy_dir() / relative).resolve()
        if path.is_relative_to(root):
            path.unlink(missing_ok=True)


def file_upload_data(*, file: PersonalInfoFile, actor, data: bytes, filename: str = "", encoding: str = "auto",
                     separator: str = "auto") -> PersonalInfoFile:  # fmt: skip
    """Validate and store the data of a file as the input of its later creation jobs (UTF-8, the detected or
    chosen separator). Replaces earlier data; the audit record keeps both SHA-256s."""
    parsed = parse_upload(data, items=file.item_names, encoding=encoding, separator=separator,
                          record_count=file.record_count if file.source_path == "" else 0)  # fmt: skip
    relative, digest = _write_upload(file.municipality, f"file-{file.pk}", parsed["text"])
    try:
        with transaction.atomic():
            file = _locked_file(file)
            previous, previous_sha = file.source_path, file.data_sha256
            file.source_path = relative
            file.separator = parsed["separator"]
            file.data_encoding = parsed["encoding"]
            file.data_sha256 = digest
            file.data_uploaded_at = timezone.now()
            file.record_count = parsed["rows"]
            file.save()
            audit.record(actor=actor, action="privacy.file_data_uploaded", target=file,
                         municipality=file.municipality,
                         details={"name": file.name, "original_name": filename[:200], "rows": parsed["rows"],
                                  "encoding": parsed["encoding"], "separator": parsed["separator"],
                                  "sha256": digest, "replaced_sha256": previous_sha})  # fmt: skip
    except BaseException:
        _remove_uploads(file, [relative])
        raise
    _remove_uploads(file, [previous])
    return file


def _column_values(file: PersonalInfoFile, column: str):
    import polars as pl

    if not file.source_path:
        return None
    table = pl.read_csv(resolve_tenant_path(file.municipality, file.source_path), separator=file.separator,
                        infer_schema=False,
                        columns=[column])  # fmt: skip
    return table[column]


HIERARCHY_RULES = ("interval", "date", "prefix")
# One value each rule accepts, to check a rule's parameters before there are data.
RULE_PARAMETER_PROBE = {
    "interval": lambda params: ["0"],
    "date": lambda params: ["2000-01-01"],
    "prefix": lambda params: ["0" * (max([int(p) for p in params] or [0]) + 1)],
}


def build_rule_hierarchy(kind: str, params: list, values, *, column: str):
    """The engine's rule for `kind` over `values` (HierarchyError for bad parameters)."""
    from madoguchi.privacy.engine import date_hierarchy, interval_hierarchy, prefix_hierarchy

    source = f"{column} ({kind})"
    if kind == "interval":
        widths = [float(p) for p in params]
        if any(not w > 0 or w == float("inf") for w in widths):
            raise ValueError("interval widths must be positive numbers")
        return interval_hierarchy(values, widths=widths, source=source)
    if kind == "date":
        return date_hierarchy(values, steps=[str(p) for p in params], source=source)
    if kind == "prefix":
        return prefix_hierarchy(values, keep=[int(p) for p in params], source=source)
    raise PrivacyError("rule", _("Unknown hierarchy rule."))


def _check_hierarchy_column(file: PersonalInfoFile, column: str) -> None:
    if column not in file.names_with_role("quasi_identifier", "sensitive"):
        raise UploadError(_("Choose a quasi-identifier or sensitive item."), field="column")


def file_set_hierarchy_upload(*, file: PersonalInfoFile, actor, column: str, data: bytes, filename: str = "",
                              encoding: str = "auto", separator: str = ";") -> PersonalInfoFile:  # fmt: skip
    """Store an uploaded `value;level1;…;*` hierarchy for a column once the engine has validated it
    (`load_hierarchy_csv`: its error names the wrong line) and, when data are uploaded, covers their values."""
    from madoguchi.privacy.engine import HierarchyError, load_hierarchy_csv

    _check_hierarchy_column(file, column)
    if len(data) > upload_max_bytes():
        raise UploadError(
            _("The file is larger than %(limit)s MB.") % {"limit": f"{upload_max_bytes() / 1024 / 1024:g}"}
        )
    if separator not in SEPARATORS:
        raise UploadError(_("Unknown separator."), field="separator")
    text, _used = _decode(data, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    index = file.item_names.index(column)
    relative, digest = _write_upload(file.municipality, f"file-{file.pk}-hierarchy-{index}", text)
    try:
        try:
            hierarchy = load_hierarchy_csv(privacy_dir() / relative, sep=separator)
            values = _column_values(file, column)
            if values is not None:
                _covers(hierarchy, values, column=column)
        except HierarchyError as exc:
            raise UploadError(str(exc).replace(Path(relative).name, filename or column)) from None
        with transaction.atomic():
            file = _locked_file(file)
            previous = file.hierarchies.get(column, {})
            file.hierarchies = {**file.hierarchies, column: {"kind": "file", "path": relative, "sep": separator,
                                                             "name": filename[:200], "sha256": digest}}  # fmt: skip
            file.save(update_fields=["hierarchies"])
            audit.record(actor=actor, action="privacy.file_hierarchy_set", target=file, municipality=file.municipality,
                         details={"column": column, "kind": "file", "original_name": filename[:200],
                                  "sha256": digest, "levels": len(hierarchy.rows[0])})  # fmt: skip
    except BaseException:
        _remove_uploads(file, [relative])
        raise
    if previous.get("kind") == "file":
        _remove_uploads(file, [previous.get("path", "")])
    return file


def _covers(hierarchy, values, *, column: str) -> None:
    from madoguchi.privacy.engine import HierarchyError

    leaves = {row[0] for row in hierarchy.rows}
    for number, value in enumerate(values.to_list(), start=2):
        if ("" if value is None else value) not in leaves:
            raise HierarchyError(f"データの値「{value}」が階層にありません", f"the data value {value!r} is not in "
                                 "the hierarchy", source=f"{column}（データ）", line=number)  # fmt: skip


def file_set_hierarchy_rule(
    *, file: PersonalInfoFile, actor, column: str, kind: str, params: list
) -> PersonalInfoFile:
    """Choose a rule (numeric intervals, date truncation, prefix masking) as the column's hierarchy; checked
    against the uploaded data when there are any."""
    from madoguchi.privacy.engine import HierarchyError

    _check_hierarchy_column(file, column)
    if kind not in HIERARCHY_RULES:
        raise UploadError(_("Unknown hierarchy rule."), field="kind")
    values = _column_values(file, column)
    try:
        if values is None:
            # No data yet: only the parameters are checked, on one value the rule accepts (a rule built over no
            # value at all is refused as an empty hierarchy). The data are checked against it by the job.
            values = RULE_PARAMETER_PROBE[kind](params)
        build_rule_hierarchy(kind, params, values, column=column)
    except HierarchyError as exc:
        raise UploadError(str(exc), field="parameters") from None
    except ValueError:
        raise UploadError(_("Write the parameters as numbers separated by commas (for example 5,10,20)."),
                          field="parameters") from None  # fmt: skip
    with transaction.atomic():
        file = _locked_file(file)
        previous = file.hierarchies.get(column, {})
        file.hierarchies = {**file.hierarchies, column: {"kind": kind, "params": list(params)}}
        file.save(update_fields=["hierarchies"])
        audit.record(actor=actor, action="privacy.file_hierarchy_set", target=file, municipality=file.municipality,
                     details={"column": column, "kind": kind, "params": list(params)})  # fmt: skip
    if previous.get("kind") == "file":
        _remove_uploads(file, [previous.get("path", "")])
    return file


# --- Participation in the proposal workflow (participation.py) -------------------------------------------------
def not_participating_message(municipality) -> str:
    return _("%(name)s does not take proposals for anonymized information (提案募集). Only designated cities and "
             "municipalities that have chosen to take part do (Act on the Protection of Personal Information, "
             "Articles 110 and 111).") % {"name": municipality.full_name}  # fmt: skip


def require_participation(municipality) -> None:
    """PrivacyError("not_participating") unless the municipality takes new calls and proposals.

    Checked before the write, without a lock: a proposal that passes it while the municipality opts out is one
    made just before the opt-out, which goes on like every proposal already made."""
    if not participation.participates(municipality):
        raise PrivacyError("not_participating", not_participating_message(municipality))


def _may_change_participation(municipality, actor) -> bool:
    """The municipality's administrators (a StaffRole MUNICIPAL_ADMIN there); None is the system (the demo)."""
    from madoguchi.identity.models import StaffRole
    from madoguchi.identity.selectors import staff_access

    if actor is None:
        return True
    return bool(getattr(actor, "pk", None)) and staff_access(
        actor, municipality, {StaffRole.Role.MUNICIPAL_ADMIN}
    )


def _participation_set(*, municipality, actor, opted_in: bool) -> WorkflowParticipation:
    if not _may_change_participation(municipality, actor):
        raise PrivacyError("forbidden", _("Only the administrators of %(name)s may change whether it takes "
                                          "proposals.") % {"name": municipality.full_name})  # fmt: skip
    if participation.is_designated_city(municipality):
        raise PrivacyError("designated", _("A designated city must call for proposals (Act on the Protection of "
                                           "Personal Information, Articles 110 and 111; Local Autonomy Act, "
                                           "Article 252-19): it cannot opt out."))  # fmt: skip
    with transaction.atomic():
        row, created = WorkflowParticipation.objects.select_for_update().get_or_create(
            municipality=municipality,
            defaults={"opted_in": opted_in, "changed_at": timezone.now(), "changed_by": _actor_pk(actor)},
        )  # fmt: skip
        if not created:
            if row.opted_in == opted_in:
                return row  # nothing changes, nothing is recorded
            row.opted_in, row.changed_at, row.changed_by = opted_in, timezone.now(), _actor_pk(actor)
            row.save(update_fields=["opted_in", "changed_at", "changed_by"])
        audit.record(
            actor=actor, action="privacy.participation_opted_in" if opted_in else "privacy.participation_opted_out",
            target=row, municipality=municipality, details={"opted_in": opted_in},
        )  # fmt: skip
    return row


def participation_opt_in(*, municipality, actor) -> WorkflowParticipation:
    """The municipality takes proposal calls and proposals from now on (a municipality other than a designated
    city, 改正法附則). Only its administrators (or the system, actor None). Idempotent: a second opt-in records
    nothing."""
    return _participation_set(municipality=municipality, actor=actor, opted_in=True)


def participation_opt_out(*, municipality, actor) -> WorkflowParticipation:
    """No new call and no new proposal from now on; proposals, contracts, creation jobs and provisions already
    under way go on. A designated city cannot opt out. Only the municipality's administrators."""
    return _participation_set(municipality=municipality, actor=actor, opted_in=False)


# --- Calls and proposals --------------------------------------------------------------------------------------
def call_create(
    *, municipality, actor, title: str, starts_on: date, ends_on: date, files, fee_table: dict | None = None,
    guidance: str = "",
) -> ProposalCall:  # fmt: skip
    require_participation(municipality)
    if ends_on < starts_on:
        raise PrivacyError("period", _("The period ends before it starts."))
    files = list(files)
    if not files or any(f.municipality_id != municipality.pk for f in files):
        raise PrivacyError("files", _("Choose at least one file of this municipality."))
    table = dict(DEFAULT_FEE_TABLE if fee_table is None else fee_table)
    with transaction.atomic():
        call = ProposalCall.objects.create(municipality=municipality, title=title, starts_on=starts_on,
                                           ends_on=ends_on, fee_table=table, guidance=guidance)  # fmt: skip
        call.files.set(files)
        PersonalInfoFile.objects.filter(pk__in=[f.pk for f in files]).update(open_to_proposals=True)
        audit.record(actor=actor, action="privacy.call_created", target=call, municipality=municipality,
                     details={"title": title, "files": [f.pk for f in files], "fee_table": table})  # fmt: skip
    return call


def call_is_open(call: ProposalCall, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return call.starts_on <= today <= call.ends_on


def _locked(proposal: Proposal) -> Proposal:
    return (
        Proposal.objects.select_for_update().select_related("call__municipality", "file").get(pk=proposal.pk)
    )


def _require(proposal: Proposal, *statuses: str) -> None:
    if proposal.status not in statuses:
        raise PrivacyError(
            "transition",
            _("This step is not possible while the proposal is %(status)s.")
            % {"status": S(proposal.status).label},
        )


def _record(proposal: Proposal, action: str, actor, **details) -> None:
    audit.record(actor=actor, action=f"privacy.{action}", target=proposal, municipality=proposal.call.municipality,
                 details={"reference": proposal.reference, "status": proposal.status, **details})  # fmt: skip


def proposal_submit(
    *, call: ProposalCall, file: PersonalInfoFile, account, purpose: str, items_wanted: list[str],
    processing_method: str, safeguards: str, period_months: int, declarations: dict[str, bool],
) -> Proposal:  # fmt: skip
    if account is None:
        raise PrivacyError("sign_in", _("Sign in with GビズID to make a proposal."))
    require_participation(call.municipality)
    if not call_is_open(call):
        raise PrivacyError("closed", _("This call is not open."))
    if not call.files.filter(pk=file.pk).exists():
        raise PrivacyError("file", _("This file is not offered in this call."))
    if not PersonalInfoFile.objects.filter(pk=file.pk, open_to_proposals=True).exists():
        raise PrivacyError("file_closed", _("This file is not open to proposals."))
    unknown = [i for i in items_wanted if i not in file.item_names]
    if not items_wanted or unknown:
        raise PrivacyError("items", _("Choose the items you need from the file."))
    declared = {k: bool(declarations.get(k)) for k, _label in DISQUALIFICATIONS}
    with transaction.atomic():
        proposal = Proposal.objects.create(
            reference=_reference("PV"), call=call, file=file, business=account.business, user=account.user,
            purpose=purpose, items_wanted=list(items_wanted), processing_method=processing_method,
            safeguards=safeguards, period_months=period_months, declarations=declared,
        )  # fmt: skip
        _record(proposal, "proposal_submitted", account.user, file=file.pk, items=list(items_wanted))
    return proposal


def existing_entries(municipality):
    """Register lines whose created information can be proposed for use (法第118条): a finished creation
    job exists and the proposal it was made for was not cancelled."""
    return (
        RegisterEntry.objects.filter(municipality=municipality, proposal__jobs__status=CreationJob.Status.DONE)
        .exclude(proposal__status=S.CANCELLED).select_related("proposal__call", "proposal__file").distinct()
    )  # fmt: skip


def proposal_submit_existing(
    *, entry: RegisterEntry, account, purpose: str, safeguards: str, period_months: int,
    declarations: dict[str, bool],
) -> Proposal:  # fmt: skip
    """A proposal to use anonymized information already created (法第118条第1項): no items or processing
    method to choose; reviewed, contracted and charged like a 第112条 proposal (第118条第2項)."""
    if account is None:
        raise PrivacyError("sign_in", _("Sign in with GビズID to make a proposal."))
    require_participation(entry.municipality)
    if not existing_entries(entry.municipality).filter(pk=entry.pk).exists():
        raise PrivacyError("entry", _("This anonymized information cannot be proposed for use."))
    source = entry.proposal
    declared = {k: bool(declarations.get(k)) for k, _label in DISQUALIFICATIONS}
    with transaction.atomic():
        proposal = Proposal.objects.create(
            reference=_reference("PV"), kind=Proposal.Kind.EXISTING, source_entry=entry, call=source.call,
            file=source.file, business=account.business, user=account.user, purpose=purpose,
            items_wanted=list(entry.items), processing_method="", safeguards=safeguards,
            period_months=period_months, declarations=declared,
        )  # fmt: skip
        _record(proposal, "proposal_submitted", account.user, kind="existing", entry=entry.pk,
                source=source.reference)  # fmt: skip
    return proposal


def may_act_for(proposal: Proposal, user) -> bool:
    """The person who proposed, or another GビズID プライム/メンバー account of the same business."""
    from madoguchi.identity.models import BusinessAccount

    if user is None or not getattr(user, "pk", None):
        return False
    if proposal.user_id == user.pk:
        return True
    return BusinessAccount.objects.filter(
        user=user, business_id=proposal.business_id,
        account_type__in=[BusinessAccount.AccountType.PRIME, BusinessAccount.AccountType.MEMBER],
    ).exists()  # fmt: skip


def proposal_withdraw(*, proposal: Proposal, user) -> Proposal:
    if not may_act_for(proposal, user):
        raise PrivacyError("forbidden", _("You may not act for this proposal."))
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.SUBMITTED, S.IN_REVIEW, S.ACCEPTED, S.NOTIFIED)
        proposal.status = S.WITHDRAWN
        proposal.save(update_fields=["status"])
        _record(proposal, "proposal_withdrawn", user)
    return proposal


def proposal_review_start(*, proposal: Proposal, actor) -> Proposal:
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.SUBMITTED)
        proposal.status = S.IN_REVIEW
        proposal.checklist = {f"disq_{k}": v for k, v in proposal.declarations.items()} | proposal.checklist
        proposal.save(update_fields=["status", "checklist"])
        _record(proposal, "review_started", actor)
    return proposal


def proposal_checklist_save(
    *, proposal: Proposal, actor, checklist: dict[str, bool], note: str = ""
) -> Proposal:
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.SUBMITTED, S.IN_REVIEW)
        proposal.status = S.IN_REVIEW
        proposal.checklist = {k: bool(checklist.get(k)) for k in check_keys(proposal)}
        proposal.review_note = note[:5000]
        proposal.save(update_fields=["status", "checklist", "review_note"])
        _record(proposal, "checklist_saved", actor, checklist=proposal.checklist)
    return proposal


CANCELLATION_BAR_YEARS = 2  # 法第113条: 契約を解除され、その解除の日から起算して2年を経過しない者


def period_last_day(start: date, *, months: int) -> date:
    """The last day of a period of `months` months (years: 12 × years) counted from `start`, `start` being day 1
    (「…の日から起算して」; 民法第143条): the day before the day of the last month that corresponds to `start`,
    or, when that month has no such day (a start on 29 February, or on the 31st), the last day of that month.
    2023-06-01 + 2 years → 2025-05-31; 2024-02-29 + 2 years → 2026-02-28; 2024-01-31 + 1 month → 2024-02-29."""
    import calendar

    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return date(year, month, last)
    return date(year, month, start.day) - timedelta(days=1)


def cancellation_bar_last_day(cancelled_on: date) -> date:
    """The last day on which a cancellation bars the business (法第113条): two calendar years counted from the
    day of the cancellation itself; from the next day the two years have passed."""
    return period_last_day(cancelled_on, months=12 * CANCELLATION_BAR_YEARS)


def recent_cancellation(proposal: Proposal, today: date | None = None) -> Contract | None:
    """A contract of the same business cancelled (法第120条) by this body whose two-year bar (法第113条) still
    runs today. Only this body's own contracts are looked at: other bodies' cancellations are theirs to share."""
    today = today or timezone.localdate()
    # A coarse filter in SQL (three years back covers every calendar case), then the calendar rule.
    candidates = Contract.objects.filter(
        proposal__business_id=proposal.business_id, proposal__call__municipality_id=proposal.call.municipality_id,
        cancelled_on__isnull=False, cancelled_on__gt=today - timedelta(days=3 * 366),
    ).exclude(proposal=proposal).order_by("-cancelled_on")  # fmt: skip
    for contract in candidates:
        if today <= cancellation_bar_last_day(contract.cancelled_on):
            return contract
    return None


def disqualification_problems(proposal: Proposal) -> list[str]:
    """The 欠格事由 not cleared: declared by the business AND confirmed by staff, and no cancellation of this
    body's within two years."""
    problems = []
    for key, label in DISQUALIFICATIONS:
        if not proposal.declarations.get(key) or not proposal.checklist.get(f"disq_{key}"):
            problems.append(label)
    cancelled = recent_cancellation(proposal)
    if cancelled is not None:
        problems.append(_("A contract of this business was cancelled on %(date)s (Article 120); two years have "
                          "not passed (Article 113).") % {"date": cancelled.cancelled_on.isoformat()})  # fmt: skip
    return problems


def review_problems(proposal: Proposal) -> list[str]:
    problems = [label for key, label in review_checks(proposal) if not proposal.checklist.get(key)]
    persons = persons_problem(proposal)
    if persons is not None:
        problems.append(persons)
    return problems


def proposal_accept(*, proposal: Proposal, actor) -> Proposal:
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.IN_REVIEW)
        disqualified = disqualification_problems(proposal)
        if disqualified:
            raise PrivacyError("disqualified", _("A ground for disqualification (欠格事由) is not cleared: %(what)s")
                               % {"what": "、".join(disqualified)})  # fmt: skip
        failing = review_problems(proposal)
        if failing:
            raise PrivacyError("checklist", _("Not every review criterion is met: %(what)s")
                               % {"what": "、".join(failing)})  # fmt: skip
        proposal.status = S.ACCEPTED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        _record(proposal, "proposal_accepted", actor)
    return proposal


def proposal_reject(*, proposal: Proposal, actor, note: str) -> Proposal:
    if not note.strip():
        raise PrivacyError("reason", _("Give the reason for the rejection."))
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.SUBMITTED, S.IN_REVIEW)
        proposal.status = S.REJECTED
        proposal.decided_at = timezone.now()
        proposal.review_note = note[:5000]
        proposal.save(update_fields=["status", "decided_at", "review_note"])
        _record(proposal, "proposal_rejected", actor)
    return proposal


def proposal_notify(*, proposal: Proposal, actor, on: date | None = None) -> Proposal:
    """The notice of the review's result (法第114条): accepted → notified; a rejection keeps its status."""
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.ACCEPTED, S.REJECTED)
        proposal.notified_on = on or timezone.localdate()
        if proposal.status == S.ACCEPTED:
            proposal.status = S.NOTIFIED
        proposal.save(update_fields=["status", "notified_on"])
        _record(proposal, "proposal_notified", actor, on=proposal.notified_on.isoformat())
    return proposal


def contract_conclude(*, proposal: Proposal, actor, hours: int, outsourcing_cost: int = 0,
                      contract_date: date | None = None) -> Contract:  # fmt: skip
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.NOTIFIED)
        fee, breakdown = deadlines.fee(
            proposal.call.fee_table, hours=hours, outsourcing_cost=outsourcing_cost
        )
        contract = Contract.objects.create(
            proposal=proposal, hours=hours, outsourcing_cost=outsourcing_cost, fee=fee, fee_breakdown=breakdown,
            contract_date=contract_date or timezone.localdate(),
        )  # fmt: skip
        proposal.status = S.CONTRACTED
        proposal.save(update_fields=["status"])
        _record(proposal, "contract_concluded", actor, fee=fee, breakdown=breakdown)
    return contract


def fee_paid(*, proposal: Proposal, actor, paid_on: date | None = None) -> Proposal:
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.CONTRACTED)
        paid_on = paid_on or timezone.localdate()
        Contract.objects.filter(proposal=proposal).update(paid_on=paid_on)
        proposal.status = S.FEE_PAID
        proposal.save(update_fields=["status"])
        _record(proposal, "fee_paid", actor, paid_on=paid_on.isoformat(), fee=proposal.contract.fee)
    return proposal


CANCELLABLE = (S.CONTRACTED, S.FEE_PAID, S.CREATED, S.PROVIDED)


def contract_cancel(*, proposal: Proposal, actor, ground: str, reason: str,
                    cancelled_on: date | None = None) -> Contract:  # fmt: skip
    """契約の解除 (法第120条): the body cancels when the contract was concluded by deceit (第1号), the user
    became subject to a 欠格事由 of 第113条 (第2号), or seriously broke the contract (第3号). Every download link
    of the proposal stops at once; the business is told by e-mail and on its page."""
    if ground not in Contract.Ground.values:
        raise PrivacyError("ground", _("Choose the ground of the cancellation (Article 120)."))
    if not reason.strip():
        raise PrivacyError("reason", _("Give the reason for the cancellation."))
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, *CANCELLABLE)
        contract = Contract.objects.select_for_update().get(proposal=proposal)
        contract.cancelled_on = cancelled_on or timezone.localdate()
        contract.cancellation_ground = ground
        contract.cancellation_reason = reason[:5000]
        contract.save(update_fields=["cancelled_on", "cancellation_ground", "cancellation_reason"])
        now = timezone.now()
        stopped = Provision.objects.filter(proposal=proposal, expires_at__gt=now).update(expires_at=now)
        proposal.status = S.CANCELLED
        proposal.save(update_fields=["status"])
        _record(proposal, "contract_cancelled", actor, ground=ground, on=contract.cancelled_on.isoformat(),
                links_stopped=stopped)  # fmt: skip
        _fail_jobs_of_cancelled(proposal, actor, now)
        transaction.on_commit(lambda: _mail_cancellation(proposal, contract))
    return contract


def _cancelled_job_message() -> str:
    return _("The contract was cancelled (Article 120) while the creation job was queued or running; the job was "
             "stopped, its output deleted, and nothing was registered or provided.")  # fmt: skip


def _fail_jobs_of_cancelled(proposal: Proposal, actor, now) -> None:
    """Inside `contract_cancel`'s transaction (the proposal row locked): every QUEUED or RUNNING creation job of
    the proposal ends as failed, each audited. A worker still running one finds it failed at its last step and
    deletes its output (`creation_job_run`); a queued one is never started."""
    active = [CreationJob.Status.QUEUED, CreationJob.Status.RUNNING]
    for job in proposal.jobs.select_for_update().filter(status__in=active):
        job.status = CreationJob.Status.FAILED
        job.error = _cancelled_job_message()
        job.finished_at = now
        job.save(update_fields=["status", "error", "finished_at"])
        _record(proposal, "creation_failed", actor, job=job.pk, error="contract_cancelled")


def _mail_cancellation(proposal: Proposal, contract: Contract) -> None:
    from django.core.mail import send_mail

    from madoguchi.identity.models import BusinessAccount

    emails = sorted(set(BusinessAccount.objects.filter(business_id=proposal.business_id).exclude(email="")
                        .values_list("email", flat=True)))  # fmt: skip
    if not emails:
        return
    send_mail(
        _("Your contract for anonymized information %(ref)s was cancelled") % {"ref": proposal.reference},
        _("%(body)s cancelled the contract for proposal %(ref)s on %(date)s (Article 120): %(ground)s. "
          "Stop using the information and delete it. Reason: %(reason)s")
        % {"body": proposal.call.municipality.full_name, "ref": proposal.reference,
           "date": contract.cancelled_on.isoformat(), "ground": contract.get_cancellation_ground_display(),
           "reason": contract.cancellation_reason},
        None, emails, fail_silently=True,
    )  # fmt: skip


# --- Creation ---------------------------------------------------------------------------------------------------
def job_columns(proposal: Proposal) -> dict[str, str]:
    """The roles of the columns the job works on: the items wanted, with the file's roles."""
    roles = {i["name"]: i.get("role", "insensitive") for i in proposal.file.items}
    return {name: roles[name] for name in proposal.items_wanted if name in roles}


def _peculiar_rules(columns: dict[str, str], top_codes, rare_categories) -> tuple[list[dict], list[dict]]:
    """The peculiar-value steps (施行規則第34条第4号 / 第62条) as stored in the job's parameters: top-coding
    ({"column", "threshold"}: values ≥ threshold become one "threshold+" label, e.g. ages of 100 and over) and
    rare categories grouped ({"column", "min_count"}: values held by fewer records become 「その他」)."""
    tops, rares = [], []
    for rule in top_codes or ():
        column = str(rule.get("column", ""))
        if column not in columns:
            raise PrivacyError("top_code", _("Top-coding: choose an item of the job."))
        try:
            threshold = float(rule["threshold"])
        except (KeyError, TypeError, ValueError):
            raise PrivacyError("top_code", _("Top-coding: the threshold must be a number.")) from None
        if threshold != threshold or threshold in (float("inf"), float("-inf")):
            raise PrivacyError("top_code", _("Top-coding: the threshold must be a number."))
        tops.append({"column": column, "threshold": threshold})
    for rule in rare_categories or ():
        column = str(rule.get("column", ""))
        if column not in columns:
            raise PrivacyError("rare", _("Rare categories: choose an item of the job."))
        try:
            min_count = int(rule["min_count"])
        except (KeyError, TypeError, ValueError):
            raise PrivacyError("rare", _("Rare categories: the threshold must be a whole number.")) from None
        if min_count < 2:
            raise PrivacyError("rare", _("Rare categories: the threshold must be at least 2."))
        rares.append({"column": column, "min_count": min_count})
    return tops, rares


def creation_job_queue(
    *, proposal: Proposal, actor, k: int, l: float | None = None, l_variant: str = "distinct",  # noqa: E741
    t: float | None = None, t_measure: str = "equal", suppression: float = 0.0, metric: str = "entropy",
    top_codes: list[dict] | None = None, rare_categories: list[dict] | None = None,
) -> CreationJob:  # fmt: skip
    """Queue the creation (法第116条) with the privacy model (k; distinct or entropy ℓ; t-closeness with the
    equal or hierarchical distance; the suppression limit), the utility metric the search optimises, and the
    peculiar-value steps; all of it is stored in the job and reaches the 作成記録."""
    from madoguchi.privacy.engine import METRICS, AnonymizationError, PrivacyModel

    if proposal.kind == Proposal.Kind.EXISTING:
        raise PrivacyError("existing", _("A proposal to use information already created (Article 118) needs no "
                                         "creation job: provide the existing information."))  # fmt: skip
    if not proposal.file.has_data:
        raise PrivacyError("no_data", _("The data of the personal information file have not been uploaded."))
    columns = job_columns(proposal)
    qi = [c for c, role in columns.items() if role == "quasi_identifier"]
    sensitive = [c for c, role in columns.items() if role == "sensitive"]
    if not qi:
        raise PrivacyError("qi", _("The items wanted contain no quasi-identifier to generalize."))
    if (l is not None or t is not None) and len(sensitive) != 1:
        raise PrivacyError("sensitive", _("ℓ-diversity and t-closeness need exactly one sensitive item."))
    if metric not in METRICS:
        raise PrivacyError("metric", _("Unknown utility metric."))
    try:
        PrivacyModel(k=k, l=l, l_variant=l_variant, t=t, t_measure=t_measure, suppression=suppression)
    except AnonymizationError as exc:
        raise PrivacyError("model", str(exc)) from exc
    if (
        t is not None
        and t_measure == "hierarchical"
        and not (proposal.file.hierarchies.get(sensitive[0]) or proposal.file.hierarchies_path)
    ):
        raise PrivacyError("t_measure", _("The hierarchical distance of t-closeness needs a hierarchy for the "
                                          "sensitive item %(column)s.") % {"column": sensitive[0]})  # fmt: skip
    tops, rares = _peculiar_rules(columns, top_codes, rare_categories)
    with transaction.atomic():
        proposal = _locked(proposal)
        _require(proposal, S.FEE_PAID)
        # 法第114条第1項第2号, checked again on the data as they are now: a re-upload after the acceptance may
        # have fewer records than the minimum.
        problem = persons_problem(proposal)
        if problem is not None:
            raise PrivacyError("persons", _("The creation job cannot be queued: %(problem)s Upload data with "
                                            "enough records first.") % {"problem": problem})  # fmt: skip
        _fail_stale_jobs(proposal, actor)
        if proposal.jobs.filter(status__in=[CreationJob.Status.QUEUED, CreationJob.Status.RUNNING]).exists():
            raise PrivacyError("busy", _("A creation job is already queued or running."))
        params = {"k": k, "l": l, "l_variant": l_variant, "t": t, "t_measure": t_measure, "suppression": suppression,
                  "metric": metric, "top_codes": tops, "rare_categories": rares, "qi": qi, "sensitive": sensitive,
                  "columns": columns, "input": proposal.file.source_path,
                  "input_sha256": proposal.file.data_sha256}  # fmt: skip
        job = CreationJob.objects.create(proposal=proposal, params=params)
        _record(proposal, "creation_queued", actor, job=job.pk, params=params)
    return job


def job_stale_after() -> timedelta:
    """How long a RUNNING job may go without a heartbeat before it is taken for dead (its worker crashed or was
    killed): PRIVACY_JOB_STALE_MINUTES, 60 by default (the engine reports progress far more often)."""
    return timedelta(minutes=settings.PRIVACY_JOB_STALE_MINUTES)


def job_is_stale(job: CreationJob, now=None) -> bool:
    if job.status != CreationJob.Status.RUNNING:
        return False
    last = job.heartbeat_at or job.started_at or job.created_at
    return last is None or last < (now or timezone.now()) - job_stale_after()


def _fail_stale_jobs(proposal: Proposal, actor) -> None:
    """Inside the caller's transaction (the proposal row locked): RUNNING jobs of the proposal without a
    heartbeat for longer than the limit are marked failed, each audited, so that the job can be queued again."""
    now = timezone.now()
    for job in proposal.jobs.select_for_update().filter(status=CreationJob.Status.RUNNING):
        if not job_is_stale(job, now):
            continue
        job.status = CreationJob.Status.FAILED
        job.error = str(_("The creation job stopped without finishing (no sign of progress since %(time)s); it "
                          "was marked as failed and can be queued again.")
                        % {"time": timezone.localtime(job.heartbeat_at or job.started_at or job.created_at)
                           .strftime("%Y-%m-%d %H:%M")})  # fmt: skip
        job.finished_at = now
        job.save(update_fields=["status", "error", "finished_at"])
        _record(proposal, "creation_failed", actor, job=job.pk, error="stale")


HEARTBEAT_SECONDS = 30


def _set_progress(job_id: int):
    import time

    last = [-1, time.monotonic()]

    def progress(evaluated: int, total: int) -> None:
        pct = min(99, evaluated * 100 // max(total, 1))
        beat = time.monotonic()
        if pct >= last[0] + 5 or beat - last[1] >= HEARTBEAT_SECONDS:
            last[0] = max(last[0], pct)
            last[1] = beat
            CreationJob.objects.filter(pk=job_id).update(progress=pct, heartbeat_at=timezone.now())

    return progress


def _run_engine(job: CreationJob) -> tuple:
    import polars as pl

    from madoguchi.privacy.engine import PrivacyModel, RareCategory, TopCode, anonymize, load_hierarchy_csv
    from madoguchi.privacy.management.commands.anonymize import find_hierarchy

    file = job.proposal.file
    params = job.params
    # The input is the registered file's data as they were when the job was queued.
    source_path = params.get("input") or file.source_path
    if not source_path:
        raise PrivacyError("no_data", _("The data of the personal information file have not been uploaded."))
    municipality = job.proposal.call.municipality
    source = resolve_tenant_path(municipality, source_path)
    if (
        params.get("input_sha256")
        and hashlib.sha256(source.read_bytes()).hexdigest() != params["input_sha256"]
    ):
        raise PrivacyError(
            "changed", _("The data of the file changed after the job was queued; queue it again.")
        )
    table = pl.read_csv(source, separator=file.separator, infer_schema=False, encoding="utf8")
    columns = params["columns"]
    table = table.select([c for c in table.columns if c in columns])
    hier_dir = resolve_tenant_path(municipality, file.hierarchies_path) if file.hierarchies_path else None
    hierarchies = {}
    for column in params["qi"] + params["sensitive"]:
        spec = file.hierarchies.get(column)
        if spec and spec.get("kind") == "file":
            hierarchies[column] = load_hierarchy_csv(
                resolve_tenant_path(municipality, spec["path"]), sep=spec.get("sep", ";")
            )
            continue
        if spec and spec.get("kind") in HIERARCHY_RULES:
            hierarchies[column] = build_rule_hierarchy(
                spec["kind"], spec["params"], table[column], column=column
            )
            continue
        path = find_hierarchy(hier_dir, column) if hier_dir else None
        if path is None:
            if column in params["sensitive"]:
                continue
            raise PrivacyError("hierarchy", _("No hierarchy for %(column)s.") % {"column": column})
        hierarchies[column] = load_hierarchy_csv(path)
    model = PrivacyModel(k=params["k"], l=params["l"], l_variant=params.get("l_variant", "distinct"),
                         t=params.get("t"), t_measure=params.get("t_measure", "equal"),
                         suppression=params["suppression"])  # fmt: skip
    result = anonymize(
        table, roles=columns, hierarchies=hierarchies, model=model, metric=params.get("metric", "entropy"),
        top_codes=[TopCode(r["column"], float(r["threshold"])) for r in params.get("top_codes", [])],
        rare_categories=[RareCategory(r["column"], int(r["min_count"])) for r in params.get("rare_categories", [])],
        progress=_set_progress(job.pk), data_source=Path(source).name, row_offset=2,
    )  # fmt: skip
    report = result.report()
    report["input"] = {"file": file.name, "rows": table.height, "columns": list(table.columns),
                       "sha256": params.get("input_sha256", "")}  # fmt: skip
    return result.table, report


# Errors whose message is written for the staff member (Japanese, then English) and names no personal data
# beyond what the staff member already sees: shown as they are. Anything else (a polars error, a crash) is
# logged with its traceback and shown as a generic message with the kind of error only.
def _user_errors() -> tuple[type[BaseException], ...]:
    from django.core.management.base import CommandError

    from madoguchi.privacy.engine import AnonymizationError

    return (AnonymizationError, PrivacyError, CommandError)


def _failure_message(exc: BaseException, job_id: int) -> str:
    if isinstance(exc, _user_errors()):
        return str(exc)[:5000]
    return _("The creation job failed because of an unexpected error (%(kind)s). Nothing was created or "
             "provided. Check the data and the parameters, then queue the job again; if it fails again, ask the "
             "system administrator to look at the server log for job %(job)s.") % {
        "kind": type(exc).__name__, "job": job_id}  # fmt: skip


def _job_failed(job: CreationJob, exc: BaseException) -> CreationJob:
    """running → failed, audited; the message is one a staff member can read (no traceback, no data values
    from an unexpected error)."""
    expected = isinstance(exc, _user_errors())
    if not expected:
        logger.exception("privacy creation job %s failed", job.pk)
    message = _failure_message(exc, job.pk)
    with transaction.atomic():
        updated = CreationJob.objects.filter(pk=job.pk, status=CreationJob.Status.RUNNING).update(
            status=CreationJob.Status.FAILED, error=message, finished_at=timezone.now()
        )
        if updated:
            _record(job.proposal, "creation_failed", None, job=job.pk,
                    error=message[:500] if expected else type(exc).__name__)  # fmt: skip
    job.refresh_from_db()
    return job


def _job_ended_by_proposal(proposal: Proposal, job: CreationJob) -> CreationJob:
    """Inside `creation_job_run`'s last transaction (the proposal and the job locked): the proposal left the
    state the job started from (FEE_PAID) while the engine ran, so nothing is created: running → failed,
    audited, no register entry."""
    if proposal.status == S.CANCELLED:
        message, reason = _cancelled_job_message(), "contract_cancelled"
    else:
        message = _("The proposal is no longer waiting for the creation (it is %(status)s); the output was deleted "
                    "and nothing was registered or provided.") % {"status": S(proposal.status).label}  # fmt: skip
        reason = f"proposal_{proposal.status}"
    job.status = CreationJob.Status.FAILED
    job.error = message
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    _record(proposal, "creation_failed", None, job=job.pk, error=reason)
    return job


def creation_job_run(*, job_id: int) -> CreationJob:
    """Run a queued job (the Celery task calls this): running → done (or failed), each step audited. Any error
    ends the job as failed (never left running); a job taken for dead meanwhile (`job_is_stale`, then queued
    again) keeps its failed status and its late output is discarded."""
    with transaction.atomic():
        job = CreationJob.objects.select_for_update().select_related("proposal__call__municipality",
                                                                      "proposal__file").get(pk=job_id)  # fmt: skip
        if job.status != CreationJob.Status.QUEUED:
            return job
        job.status = CreationJob.Status.RUNNING
        job.started_at = job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
        _record(job.proposal, "creation_started", None, job=job.pk)
    name = ""
    try:
        table, report = _run_engine(job)
        fd, tmp = tempfile.mkstemp(prefix=".job-", suffix=".csv", dir=_output_dir())
        os.close(fd)
        try:
            table.write_csv(tmp, separator=job.proposal.file.separator)
            name = f"job-{job.pk}-{secrets.token_hex(8)}.csv"
            os.replace(tmp, _output_dir() / name)
        finally:
            Path(tmp).unlink(missing_ok=True)
        digest = hashlib.sha256((_output_dir() / name).read_bytes()).hexdigest()
        with transaction.atomic():
            proposal = _locked(job.proposal)
            locked = CreationJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != CreationJob.Status.RUNNING:  # taken for dead or cancelled, failed meanwhile
                (_output_dir() / name).unlink(missing_ok=True)
                return locked
            if proposal.status != S.FEE_PAID:  # e.g. the contract was cancelled meanwhile (法第120条)
                (_output_dir() / name).unlink(missing_ok=True)
                return _job_ended_by_proposal(proposal, locked)
            job.status = CreationJob.Status.DONE
            job.progress = 100
            job.report = report
            job.output_name = name
            job.output_sha256 = digest
            job.finished_at = timezone.now()
            job.save()
            proposal.status = S.CREATED
            proposal.save(update_fields=["status"])
            RegisterEntry.objects.update_or_create(
                proposal=proposal,
                defaults={"municipality": proposal.call.municipality, "file_name": proposal.file.name,
                          "items": register_items(report, job.params),
                          "processing_method": describe_processing(report), "created_on": timezone.localdate(),
                          "recipient": proposal.business.name},
            )  # fmt: skip
            _record(proposal, "creation_done", None, job=job.pk, sha256=digest, rows=report["rows"],
                    suppressed=report["suppressed"], transformation=report["transformation"]["levels"])  # fmt: skip
    except Exception as exc:  # noqa: BLE001 — every failure ends the job, see _failure_message
        if name:
            (_output_dir() / name).unlink(missing_ok=True)
        return _job_failed(job, exc)
    return job


def register_items(report: dict, params: dict) -> list[str]:
    """The items the 匿名加工情報ファイル簿 lists: the columns of the table provided (the processing record's
    output columns: deleted identifiers, identification and linking codes are not among them)."""
    record = report.get("processing_record") or {}
    if "columns_out" in record:
        return list(record["columns_out"])
    return list(params["columns"])  # pragma: no cover (every report of the engine has a processing record)


def describe_processing(report: dict) -> str:
    """What the register says about the processing: the model and each quasi-identifier's level."""
    levels = "、".join(f"{c}（一般化レベル{v['level']}/{v['height']}）"
                      for c, v in report["transformation"]["columns"].items())  # fmt: skip
    return f"{report['privacy_model']['description']}; {levels}; 抑制 {report['suppressed']} 件"


# --- Provision --------------------------------------------------------------------------------------------------
def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def contract_period_last_day(proposal: Proposal) -> date | None:
    """The last day of the period of use agreed in the contract (`period_months`, counted from the contract
    date as day 1, 民法第143条): no link is issued and nothing is downloaded after it. None without a contract."""
    contract = Contract.objects.filter(proposal_id=proposal.pk).first()
    if contract is None:
        return None
    return period_last_day(contract.contract_date, months=proposal.period_months)


def contract_cancelled(proposal: Proposal) -> bool:
    """The proposal's contract was cancelled (法第120条): its status says so, or the contract has a
    cancellation date (checked on the contract too, whatever the status says)."""
    return (proposal.status == S.CANCELLED
            or Contract.objects.filter(proposal_id=proposal.pk, cancelled_on__isnull=False).exists())  # fmt: skip


def _period_end(last_day: date):
    """The moment the period of use ends: the start of the day after its last day, local time."""
    from datetime import datetime, time

    return timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min))


def provision_issue(*, proposal: Proposal, actor, days: int | None = None, max_downloads: int = 1):
    """A download link for the business; the token is returned once and only its hash is kept. Only within the
    contract's period of use (the link expires with it at the latest), and one live link at a time: issuing a
    new link stops the earlier ones (a lost link is replaced, never multiplied)."""
    days = days or settings.PRIVACY_PROVISION_DAYS
    if not 1 <= days <= 90 or not 1 <= max_downloads <= 10:
        raise PrivacyError("limits", _("Choose 1–90 days and 1–10 downloads."))
    with transaction.atomic():
        proposal = _locked(proposal)
        if contract_cancelled(proposal):
            raise PrivacyError("cancelled", _("The contract for this proposal was cancelled; no download link "
                                              "can be issued."))  # fmt: skip
        if proposal.kind == Proposal.Kind.EXISTING:
            # 法第118条: the information already created is provided once the fee is paid.
            _require(proposal, S.FEE_PAID, S.PROVIDED)
            job = source_job(proposal)
        else:
            _require(proposal, S.CREATED, S.PROVIDED)
            job = proposal.jobs.filter(status=CreationJob.Status.DONE).order_by("-finished_at").first()
        if job is None:
            raise PrivacyError("no_job", _("Nothing has been created yet."))
        now = timezone.now()
        last_day = contract_period_last_day(proposal)
        if last_day is None:
            raise PrivacyError("no_contract", _("There is no contract for this proposal."))
        period_end = _period_end(last_day)
        if now >= period_end:
            raise PrivacyError("period_ended", _("The period of use of the contract ended on %(date)s; no new "
                                                 "download link can be issued.") % {"date": last_day.isoformat()})  # fmt: skip
        stopped = Provision.objects.filter(proposal=proposal, expires_at__gt=now).update(expires_at=now)
        token = secrets.token_urlsafe(32)
        provision = Provision.objects.create(
            proposal=proposal, job=job, token_hash=_hash(token),
            expires_at=min(now + timedelta(days=days), period_end), max_downloads=max_downloads, issued_by=actor,
        )  # fmt: skip
        _record(proposal, "provision_issued", actor, provision=provision.pk, days=days, max_downloads=max_downloads,
                expires_at=provision.expires_at.isoformat(), period_last_day=last_day.isoformat(),
                links_stopped=stopped)  # fmt: skip
    return provision, token


def source_job(proposal: Proposal) -> CreationJob | None:
    """The finished creation job whose table a 第118条 proposal receives."""
    if proposal.source_entry_id is None:
        return None
    return (CreationJob.objects.filter(proposal_id=proposal.source_entry.proposal_id, status=CreationJob.Status.DONE)
            .order_by("-finished_at").first())  # fmt: skip


def provision_for(*, token: str, user) -> Provision:
    """The provision of a link for this user, or PrivacyError("not_found"). Reads only (the confirmation page)."""
    provision = Provision.objects.select_related("proposal__call__municipality", "proposal__business", "job").filter(
        token_hash=_hash(token)).first()  # fmt: skip
    if provision is None or not may_act_for(provision.proposal, user):
        raise PrivacyError("not_found", _("This download link is not valid."))
    return provision


def provision_refusal(provision: Provision, proposal: Proposal, now) -> PrivacyError | None:
    """Why the link cannot be used now (cancelled, the contract's period of use ended, expired, used up), or
    None. The count itself is checked again by the conditional UPDATE of `provision_download`."""
    if contract_cancelled(proposal):
        return PrivacyError("cancelled", _("The contract for this information was cancelled; it can no longer be "
                                           "downloaded."))  # fmt: skip
    last_day = contract_period_last_day(proposal)
    if last_day is not None and now >= _period_end(last_day):
        return PrivacyError("period_ended", _("The period of use of the contract ended on %(date)s; the "
                                              "information can no longer be downloaded.")
                            % {"date": last_day.isoformat()})  # fmt: skip
    if provision.expires_at <= now:
        return PrivacyError("expired", _("This download link has expired."))
    if provision.downloads >= provision.max_downloads:
        return PrivacyError("used_up", _("This download link has been used the maximum number of times."))
    return None


def provision_download(*, token: str, user) -> tuple[Provision, Path]:
    """Count one download (conditional UPDATE: never past the limit or the expiry) and record it."""
    provision = provision_for(token=token, user=user)
    now = timezone.now()
    with transaction.atomic():
        # The proposal row is locked first: a cancellation (contract_cancel locks it too) and a download never
        # interleave.
        proposal = _locked(provision.proposal)
        error = provision_refusal(provision, proposal, now)
        if error is None and not Provision.objects.filter(
            pk=provision.pk, expires_at__gt=now, downloads__lt=F("max_downloads")
        ).update(downloads=F("downloads") + 1):
            provision.refresh_from_db()
            error = provision_refusal(provision, proposal, now) or PrivacyError(
                "used_up", _("This download link has been used the maximum number of times.")
            )
        if error is not None:
            _record(proposal, "download_refused", user, provision=provision.pk, reason=error.code)
        else:
            ProvisionDownload.objects.create(provision=provision, user=user)
            if proposal.status in (S.CREATED, S.FEE_PAID):
                proposal.status = S.PROVIDED
                proposal.save(update_fields=["status"])
            RegisterEntry.objects.filter(proposal=proposal, provided_on__isnull=True).update(
                provided_on=timezone.localdate()
            )
            _record(proposal, "downloaded", user, provision=provision.pk, sha256=provision.job.output_sha256)
    if error is not None:
        raise error
    return provision, _output_dir() / provision.job.output_name


# --- Leak reports and data-subject requests -----------------------------------------------------------------------
def leak_report_create(*, municipality, actor, title: str, discovered_on: date, occurred_on: date | None = None,
                       affected_count: int = 0, kinds: list[str] = (), description: str = "") -> LeakReport:  # fmt: skip
    valid = {k for k, _label in LeakReport.Kind.choices}
    kinds = sorted(set(kinds) & valid)
    if affected_count > deadlines.OVER_100_THRESHOLD and LeakReport.Kind.OVER_100 not in kinds:
        kinds.append(LeakReport.Kind.OVER_100.value)
    with transaction.atomic():
        report = LeakReport.objects.create(
            municipality=municipality, reference=_reference("LK"), title=title, discovered_on=discovered_on,
            occurred_on=occurred_on, affected_count=affected_count, kinds=kinds, description=description,
        )  # fmt: skip
        audit.record(actor=actor, action="privacy.leak_recorded", target=report, municipality=municipality,
                     details={"reference": report.reference, "kinds": kinds, "affected": affected_count})  # fmt: skip
    return report


def leak_report_update(*, report: LeakReport, actor, preliminary_reported_on: date | None = None,
                       final_reported_on: date | None = None, persons_notified_on: date | None = None) -> LeakReport:  # fmt: skip
    with transaction.atomic():
        report = LeakReport.objects.select_for_update().get(pk=report.pk)
        changed = {}
        for name, value in (("preliminary_reported_on", preliminary_reported_on),
                            ("final_reported_on", final_reported_on), ("persons_notified_on", persons_notified_on)):  # fmt: skip
            if value is not None and getattr(report, name) != value:
                setattr(report, name, value)
                changed[name] = value.isoformat()
        report.save()
        audit.record(actor=actor, action="privacy.leak_updated", target=report, municipality=report.municipality,
                     details={"reference": report.reference, **changed})  # fmt: skip
    return report


def request_create(*, municipality, actor, kind: str, received_on: date, requester: str, details: str = "",
                   file: PersonalInfoFile | None = None) -> DataSubjectRequest:  # fmt: skip
    if kind not in DataSubjectRequest.Kind.values:
        raise PrivacyError("kind", _("Unknown kind of request."))
    if file is not None and file.municipality_id != municipality.pk:
        raise PrivacyError("file", _("Choose a file of this municipality."))
    with transaction.atomic():
        found = DataSubjectRequest.objects.create(
            municipality=municipality, reference=_reference("RQ"), kind=kind, received_on=received_on,
            requester=requester, details=details, file=file,
        )  # fmt: skip
        # The requester's name stays in the row (staff only); the audit log gets the reference and kind.
        audit.record(actor=actor, action="privacy.request_received", target=found, municipality=municipality,
                     details={"reference": found.reference, "kind": kind, "received_on": received_on.isoformat()})  # fmt: skip
    return found


def _request_locked(request: DataSubjectRequest) -> DataSubjectRequest:
    return DataSubjectRequest.objects.select_for_update().get(pk=request.pk)


def request_correction_days(*, request: DataSubjectRequest, actor, days: int) -> DataSubjectRequest:
    with transaction.atomic():
        request = _request_locked(request)
        if request.status in (DataSubjectRequest.Status.ANSWERED, DataSubjectRequest.Status.WITHDRAWN):
            raise PrivacyError("closed", _("This request is closed."))
        request.correction_days = max(0, days)
        request.save(update_fields=["correction_days"])
        audit.record(actor=actor, action="privacy.request_correction_days", target=request,
                     municipality=request.municipality, details={"reference": request.reference, "days": days})  # fmt: skip
    return request


def request_extend(*, request: DataSubjectRequest, actor, reason: str) -> DataSubjectRequest:
    if not reason.strip():
        raise PrivacyError("reason", _("Give the reason for the extension."))
    with transaction.atomic():
        request = _request_locked(request)
        if request.status != DataSubjectRequest.Status.RECEIVED:
            raise PrivacyError("transition", _("The period can be extended once, before the answer."))
        request.status = DataSubjectRequest.Status.EXTENDED
        request.extension_reason = reason[:5000]
        request.save(update_fields=["status", "extension_reason"])
        audit.record(actor=actor, action="privacy.request_extended", target=request,
                     municipality=request.municipality, details={"reference": request.reference})  # fmt: skip
    return request


def request_answer(*, request: DataSubjectRequest, actor, decision: str, answer: str,
                   answered_on: date | None = None) -> DataSubjectRequest:  # fmt: skip
    if decision not in DataSubjectRequest.Decision.values or not answer.strip():
        raise PrivacyError("answer", _("Choose a decision and write the answer."))
    with transaction.atomic():
        request = _request_locked(request)
        if request.status not in (DataSubjectRequest.Status.RECEIVED, DataSubjectRequest.Status.EXTENDED):
            raise PrivacyError("transition", _("This request is closed."))
        request.status = DataSubjectRequest.Status.ANSWERED
        request.decision = decision
        request.answer = answer
        request.answered_on = answered_on or timezone.localdate()
        request.save(update_fields=["status", "decision", "answer", "answered_on"])
        audit.record(actor=actor, action="privacy.request_answered", target=request,
                     municipality=request.municipality,
                     details={"reference": request.reference, "decision": decision,
                              "answered_on": request.answered_on.isoformat()})  # fmt: skip
    return request
