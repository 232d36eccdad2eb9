"""The Japanese processing standards as explicit, recorded steps.

匿名加工情報 (個人情報保護法施行規則 第34条; for 行政機関等匿名加工情報 the same standard, 第62条):
  (1) descriptions that identify a person are deleted (氏名, 住所 …: columns with the role `identifier`);
  (2) every individual identification code is deleted (個人番号 etc.: role `identification_code`, and any other
      column whose values are almost all valid My Numbers is found and deleted as well);
  (3) codes linking to the source records are deleted, or replaced by keyed tokens that cannot be traced back
      (HMAC-SHA256 with a key the caller holds and discards; role `linking_code`);
  (4) peculiar descriptions are deleted or generalized (top-coding such as age ≥ 100 → "100+", categories with
      fewer than N records → "その他");
  (5) other measures suited to the data: the privacy model and the lattice search (`anonymize.py`).

仮名加工情報 (規則 第31条) — `pseudonymize`: identifying descriptions and all identification codes deleted,
linking codes replaced by keyed tokens, descriptions whose misuse could cause financial harm (card numbers,
bank accounts: role `financial`, and columns of Luhn-valid card numbers found by inspection) deleted. The
output is for the business's internal use only: no third-party provision, no re-identification.

Each step is written to the processing record (作成記録) with what it did to which columns; the record goes
into the report and, in the workflow, into the file register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import polars as pl

from .codes import keyed_tokens, looks_like_card_number_column, looks_like_my_number_column
from .errors import AnonymizationError
from .hierarchy import Hierarchy, merge_values

#: Detection inspects at most this many distinct values of a column.
DETECTION_SAMPLE = 10_000


class Role(StrEnum):
    IDENTIFIER = "identifier"  # 特定の個人を識別できる記述: deleted
    IDENTIFICATION_CODE = "identification_code"  # 個人識別符号 (個人番号 …): deleted
    LINKING_CODE = "linking_code"  # 連結符号 (住民番号, 受付番号 …): keyed token or deleted
    FINANCIAL = "financial"  # 財産的被害のおそれがある記述 (カード番号 …): deleted when pseudonymizing
    QUASI_IDENTIFIER = "quasi_identifier"
    SENSITIVE = "sensitive"
    INSENSITIVE = "insensitive"


@dataclass(frozen=True)
class TopCode:
    """Values ≥ threshold (numerically) become one label, e.g. TopCode("age", 100) → "100+"."""

    column: str
    threshold: float
    label: str | None = None

    @property
    def text(self) -> str:
        return self.label if self.label is not None else f"{self.threshold:g}+"


@dataclass(frozen=True)
class RareCategory:
    """Values held by fewer than `min_count` records become one label."""

    column: str
    min_count: int
    label: str = "その他"


@dataclass
class ProcessingStep:
    step: str
    basis: str  # the provision the step carries out
    title_ja: str
    title_en: str
    action: str  # deleted | tokenized | top_coded | grouped | privacy_model | none
    columns: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


@dataclass
class ProcessingRecord:
    """作成記録: what was done, step by step. `internal_use_only` marks pseudonymized output."""

    kind: str  # "anonymized" (匿名加工情報) | "pseudonymized" (仮名加工情報)
    created_at: str
    rows_in: int
    columns_in: list[str]
    steps: list[ProcessingStep] = field(default_factory=list)
    rows_out: int = 0
    columns_out: list[str] = field(default_factory=list)
    internal_use_only: bool = False
    notes_ja: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def normalize_roles(table: pl.DataFrame, roles: Mapping[str, Role | str]) -> dict[str, Role]:
    """Every column of the table with its role (undeclared columns are insensitive)."""
    out: dict[str, Role] = {}
    for name, role in roles.items():
        if name not in table.columns:
            raise AnonymizationError(
                f"列「{name}」が入力にありません（入力の列: {', '.join(table.columns)}）",
                f"column {name!r} is not in the input (columns: {', '.join(table.columns)})",
            )
        try:
            out[name] = Role(role)
        except ValueError as exc:
            raise AnonymizationError(
                f"列「{name}」の役割「{role}」は使えません", f"unknown role {role!r} for column {name!r}"
            ) from exc
    for name in table.columns:
        out.setdefault(name, Role.INSENSITIVE)
    return out


def _sample(series: pl.Series) -> pl.Series:
    return series.drop_nulls().unique().head(DETECTION_SAMPLE)


def _detect(
    table: pl.DataFrame, roles: dict[str, Role], check, protected: set[Role], what_ja: str, what_en: str
):
    found = []
    for name in table.columns:
        dtype = table.schema[name]
        if not (dtype == pl.String or dtype.is_integer()):
            continue
        if not check(_sample(table[name])):
            continue
        if roles[name] in protected:
            raise AnonymizationError(
                f"列「{name}」は{what_ja}のように見えます。{roles[name].value} としては使えません",
                f"column {name!r} looks like {what_en}; it cannot be used as {roles[name].value}",
            )
        found.append(name)
    return found


def delete_identifiers(table: pl.DataFrame, roles: dict[str, Role], record: ProcessingRecord) -> pl.DataFrame:
    cols = [c for c, r in roles.items() if r == Role.IDENTIFIER]
    record.steps.append(
        ProcessingStep(
            step="1",
            basis="施行規則第34条第1号",
            title_ja="特定の個人を識別することができる記述等の削除",
            title_en="descriptions identifying a person deleted",
            action="deleted" if cols else "none",
            columns=cols,
        )
    )
    return table.drop(cols)


def delete_identification_codes(
    table: pl.DataFrame,
    roles: dict[str, Role],
    record: ProcessingRecord,
    *,
    basis: str = "施行規則第34条第2号",
) -> pl.DataFrame:
    declared = [c for c, r in roles.items() if r == Role.IDENTIFICATION_CODE and c in table.columns]
    rest = table.drop(declared)
    detected = _detect(
        rest,
        roles,
        looks_like_my_number_column,
        {Role.QUASI_IDENTIFIER, Role.SENSITIVE, Role.LINKING_CODE},
        "個人番号",
        "My Numbers",
    )
    record.steps.append(
        ProcessingStep(
            step="2",
            basis=basis,
            title_ja="個人識別符号（個人番号等）の全部削除",
            title_en="all individual identification codes (My Number etc.) deleted",
            action="deleted" if declared or detected else "none",
            columns=declared + detected,
            details={"declared": declared, "detected_as_my_number": detected},
        )
    )
    return rest.drop(detected)


def replace_linking_codes(
    table: pl.DataFrame,
    roles: dict[str, Role],
    record: ProcessingRecord,
    token_key: bytes | None,
    *,
    basis: str = "施行規則第34条第3号",
) -> pl.DataFrame:
    cols = [c for c, r in roles.items() if r == Role.LINKING_CODE and c in table.columns]
    if token_key is not None and cols:
        table = table.with_columns([keyed_tokens(table[c], token_key) for c in cols])
        action = "tokenized"
        details = {
            "method": "HMAC-SHA256（鍵付き・不可逆）、先頭128ビット",
            "key_held_by": "作成者（提供しない）",
        }
    else:
        table = table.drop(cols)
        action = "deleted" if cols else "none"
        details = {}
    record.steps.append(
        ProcessingStep(
            step="3",
            basis=basis,
            title_ja="連結符号の削除または復元できない符号への置換",
            title_en="linking codes deleted or replaced by irreversible keyed tokens",
            action=action,
            columns=cols,
            details=details,
        )
    )
    return table


def treat_peculiar_values(
    table: pl.DataFrame,
    hierarchies: dict[str, Hierarchy],
    record: ProcessingRecord,
    top_codes: Sequence[TopCode] = (),
    rare_categories: Sequence[RareCategory] = (),
) -> tuple[pl.DataFrame, dict[str, Hierarchy]]:
    """Top-code and group rare categories. The hierarchy of a changed column is extended so that the new
    label generalizes like the values it replaced (see `hierarchy.merge_values`)."""
    hierarchies = dict(hierarchies)
    done = []
    for rule in top_codes:
        if rule.column not in table.columns:
            raise AnonymizationError(
                f"トップコーディングの列「{rule.column}」が入力にありません",
                f"top-coding column {rule.column!r} is not in the input",
            )
        text = table[rule.column].cast(pl.String, strict=False)
        numbers = text.cast(pl.Float64, strict=False)
        hit = (numbers >= rule.threshold).fill_null(False)
        merged = sorted(set(text.filter(hit).to_list()))
        table = table.with_columns(text.zip_with(~hit, pl.repeat(rule.text, table.height, eager=True)))
        if merged and rule.column in hierarchies:
            hierarchies[rule.column] = merge_values(hierarchies[rule.column], merged, rule.text)
        done.append(
            {
                "column": rule.column,
                "rule": f"≥ {rule.threshold:g} → {rule.text}",
                "records": int(hit.sum()),
                "values": merged,
            }
        )
    for rule in rare_categories:
        if rule.column not in table.columns:
            raise AnonymizationError(
                f"希少区分の列「{rule.column}」が入力にありません",
                f"rare-category column {rule.column!r} is not in the input",
            )
        text = table[rule.column].cast(pl.String, strict=False)
        counts = text.value_counts()
        rare = sorted(
            v
            for v, n in zip(counts[rule.column].to_list(), counts["count"].to_list(), strict=True)
            if n < rule.min_count and v is not None and v != rule.label
        )
        hit = text.is_in(rare)
        table = table.with_columns(text.zip_with(~hit, pl.repeat(rule.label, table.height, eager=True)))
        if rare and rule.column in hierarchies:
            hierarchies[rule.column] = merge_values(hierarchies[rule.column], rare, rule.label)
        done.append(
            {
                "column": rule.column,
                "rule": f"出現数 < {rule.min_count} → {rule.label}",
                "records": int(hit.sum()),
                "values": rare,
            }
        )
    record.steps.append(
        ProcessingStep(
            step="4",
            basis="施行規則第34条第4号",
            title_ja="特異な記述等の削除・一般化（トップコーディング、希少区分の統合）",
            title_en="peculiar values deleted or generalized (top-coding, rare categories grouped)",
            action="generalized" if done else "none",
            columns=sorted({d["column"] for d in done}),
            details={"rules": done}
            if done
            else {"note": "規則の指定なし。まれな値の組合せは第5号のプライバシーモデルで扱う"},
        )
    )
    return table, hierarchies


# --- 仮名加工情報 ----------------------------------------------------------------------------------------------
@dataclass
class PseudonymizationResult:
    table: pl.DataFrame
    record: ProcessingRecord


def pseudonymize(
    table: pl.DataFrame, *, roles: Mapping[str, Role | str], token_key: bytes | None
) -> PseudonymizationResult:
    """仮名加工情報 (規則 第31条). Identifiers, identification codes and financial items are deleted; linking
    codes become keyed tokens (deleted when no key is given). Marked for internal use only."""
    role_map = normalize_roles(table, roles)
    record = ProcessingRecord(
        kind="pseudonymized",
        created_at=_now(),
        rows_in=table.height,
        columns_in=list(table.columns),
        internal_use_only=True,
        notes_ja=[
            "仮名加工情報: 事業者内部での利用に限る。第三者に提供しない（法第41条第6項）",
            "本人を識別するために他の情報と照合しない。本人への連絡等に利用しない",
            "トークン化の鍵は仮名加工情報と分けて安全に管理する",
        ],
    )
    ids = [c for c, r in role_map.items() if r == Role.IDENTIFIER]
    table = table.drop(ids)
    record.steps.append(
        ProcessingStep(
            step="P1",
            basis="施行規則第31条第1号",
            title_ja="特定の個人を識別することができる記述等の削除",
            title_en="descriptions identifying a person deleted",
            action="deleted" if ids else "none",
            columns=ids,
        )
    )
    table = delete_identification_codes(table, role_map, record, basis="施行規則第31条第2号")
    record.steps[-1].step = "P2"
    table = replace_linking_codes(table, role_map, record, token_key, basis="施行規則第31条第1号（置換）")
    record.steps[-1].step = "P3"
    declared = [c for c, r in role_map.items() if r == Role.FINANCIAL and c in table.columns]
    rest = table.drop(declared)
    detected = _detect(
        rest,
        role_map,
        looks_like_card_number_column,
        {Role.QUASI_IDENTIFIER, Role.SENSITIVE, Role.LINKING_CODE},
        "クレジットカード番号",
        "payment card numbers",
    )
    table = rest.drop(detected)
    record.steps.append(
        ProcessingStep(
            step="P4",
            basis="施行規則第31条第3号",
            title_ja="不正に利用されることにより財産的被害が生じるおそれがある記述等の削除",
            title_en="descriptions whose misuse could cause financial harm deleted",
            action="deleted" if declared or detected else "none",
            columns=declared + detected,
            details={"declared": declared, "detected_as_card_number": detected},
        )
    )
    record.rows_out = table.height
    record.columns_out = list(table.columns)
    return PseudonymizationResult(table=table, record=record)
