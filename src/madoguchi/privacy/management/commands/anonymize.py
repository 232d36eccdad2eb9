"""`madoguchi anonymize`: make 匿名加工情報 (or, with `--mode pseudonymize`, 仮名加工情報) from a CSV file with
the engine, and write the table and its report.

    madoguchi anonymize --input adult.csv --sep ';' --hierarchies DIR --qi age,sex,… [--sensitive COL]
        --k 5 [--l 2] [--t 0.2] --suppression 0.04 --metric entropy --out OUT.csv --report REPORT.json

    madoguchi anonymize --mode pseudonymize --input residents.csv [--identifiers COL,…] [--id-codes COL,…]
        [--linking COL,… --token-key-file KEY] [--financial COL,…] --out OUT.csv --report REPORT.json

Each quasi-identifier's hierarchy is `DIR/<column>.csv` or `DIR/*_hierarchy_<column>.csv`. The report (JSON,
UTF-8) holds the transformation, the metrics, the risks and the processing record (作成記録). Suppressed
records are deleted: they are not in the output file, and the report says how many there were.

Pseudonymization (規則 第31条) deletes the identifiers, the identification codes (declared, or found: My
Numbers) and the items whose misuse could cause financial harm (declared, or found: card numbers), and replaces
the linking codes by keyed tokens (HMAC-SHA256) made with the key in `--token-key-file` (deleted without a
key). The key is read from a file, never taken on the command line, where other users of the machine could see
it; it is not written to the report. The report marks the output for internal use only (内部利用に限る).

Bad input stops the command with a Japanese-first message and writes no file: both outputs are written to
temporary files and moved into place only when everything succeeded.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path

import polars as pl
from django.core.management.base import BaseCommand, CommandError

from madoguchi.privacy.engine import (
    METRICS,
    AnonymizationError,
    Hierarchy,
    PrivacyModel,
    RareCategory,
    TopCode,
    anonymize,
    load_hierarchy_csv,
    pseudonymize,
)
from madoguchi.privacy.engine.codes import MIN_KEY_BYTES

#: Options that only mean something when anonymizing, and the one only used when pseudonymizing. In the other
#: mode they are refused rather than ignored: a pseudonymized file made "with --k 5" is not 5-anonymous.
ANONYMIZE_ONLY = (
    "hierarchies", "qi", "sensitive", "k", "l", "l_variant", "t", "t_measure", "suppression", "metric",
    "top_code", "rare", "risk_threshold", "search",
)  # fmt: skip
PSEUDONYMIZE_ONLY = ("financial",)
#: Defaults of the anonymize-only options (their parser default is None, so that a given option can be told).
ANONYMIZE_DEFAULTS = {
    "k": 5, "l_variant": "distinct", "suppression": 0.0, "metric": "entropy", "risk_threshold": 5, "search": "auto",
}  # fmt: skip


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def find_hierarchy(directory: Path, column: str) -> Path | None:
    """`DIR/<column>.csv`, else the single `DIR/*_hierarchy_<column>.csv`. The column name is taken literally:
    `[`, `*` and `?` in it are not glob patterns, and a name with a path separator is refused."""
    if "/" in column or os.sep in column or "\0" in column or column in (".", ".."):
        raise CommandError(
            f"列名「{column}」には / を含められないため、階層ファイルを探せません"
            f"（cannot look up a hierarchy file for a column named {column!r}）"
        )
    direct = directory / f"{column}.csv"
    if direct.is_file():
        return direct
    matches = sorted(p for p in directory.glob(f"*_hierarchy_{glob.escape(column)}.csv") if p.is_file())
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise CommandError(
            f"列「{column}」の階層ファイルが複数あります: {names}（hierarchy files for {column!r} are ambiguous）"
        )
    return matches[0] if matches else None


def read_token_key(path: Path, stderr=None) -> bytes:
    """The token key from a file (surrounding whitespace and the final newline dropped). The key is never an
    argument: a command line is visible to every user of the machine (ps, /proc)."""
    try:
        key = path.read_bytes().strip()
        mode = path.stat().st_mode
    except OSError as exc:
        raise CommandError(
            f"トークン化の鍵ファイルを読めません: {path}（cannot read the token key file）"
        ) from exc
    if len(key) < MIN_KEY_BYTES:
        raise CommandError(
            f"トークン化の鍵は{MIN_KEY_BYTES}バイト以上です（the token key needs at least {MIN_KEY_BYTES} bytes）"
        )
    if stderr is not None and mode & (stat.S_IRWXG | stat.S_IRWXO):
        stderr.write(
            f"注意: 鍵ファイル {path} は所有者以外も読めます。chmod 600 を推奨します"
            f"（warning: the token key file is readable by other users; chmod 600 is advised）"
        )
    return key


def _plain(text: str) -> str:
    return text  # progress is not an error: no red on a terminal


class Progress:
    """`nodes evaluated / total` on stderr, at most ten times a second."""

    def __init__(self, stream, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.last = 0.0
        self.shown = False

    def __call__(self, evaluated: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        self.shown = True
        self.stream.write(
            f"\r探索中 / searching: 評価したノード {evaluated:,} / 格子 {total:,} nodes",
            style_func=_plain,
            ending="",
        )
        self.stream.flush()

    def done(self, evaluated: int, total: int, seconds: float) -> None:
        if self.enabled:
            self.stream.write(
                f"\r探索完了 / search done: 評価したノード {evaluated:,} / 格子 {total:,} nodes, {seconds:.3f} s",
                style_func=_plain,
            )


class Command(BaseCommand):
    help = (
        "匿名加工情報を作成する（施行規則第34条の基準 + k-匿名性等のプライバシーモデル）。"
        "--mode pseudonymize では仮名加工情報を作成する（規則第31条、内部利用に限る）。"
        " Make anonymized information from a CSV file: the processing standard, a privacy model, the optimal"
        " full-domain generalization, and a JSON report with the processing record. With --mode pseudonymize,"
        " make pseudonymized information (internal use only) instead."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # No abbreviated options: `--token-key SECRET` must not be taken for `--token-key-file SECRET`.
        parser.allow_abbrev = False
        return parser

    def add_arguments(self, parser):
        parser.add_argument(
            "--mode",
            choices=["anonymize", "pseudonymize"],
            default="anonymize",
            help="anonymize: 匿名加工情報 (default); pseudonymize: 仮名加工情報, for internal use only",
        )
        parser.add_argument("--input", required=True, help="input CSV file (UTF-8, with a header line)")
        parser.add_argument("--sep", default=",", help="field separator of the input and output (default ,)")
        parser.add_argument("--hierarchies", help="folder of <column>.csv hierarchy files (anonymize)")
        parser.add_argument("--qi", help="quasi-identifier columns, comma-separated (anonymize)")
        parser.add_argument("--sensitive", help="sensitive column (for ℓ-diversity and t-closeness)")
        parser.add_argument("--k", type=int, help="k of k-anonymity (default 5)")
        parser.add_argument("--l", type=float, help="ℓ for ℓ-diversity")
        parser.add_argument("--l-variant", choices=["distinct", "entropy"], help="default distinct")
        parser.add_argument("--t", type=float, help="t for t-closeness")
        parser.add_argument(
            "--t-measure",
            choices=["equal", "hierarchical"],
            help="EMD ground distance (default: hierarchical when the sensitive column has a hierarchy file)",
        )
        parser.add_argument(
            "--suppression", type=float, help="largest share of rows suppressed, i.e. deleted (default 0)"
        )
        parser.add_argument("--metric", choices=list(METRICS), help="objective (default entropy)")
        parser.add_argument("--identifiers", help="columns identifying a person (deleted), comma-separated")
        parser.add_argument("--id-codes", help="individual identification code columns (deleted)")
        parser.add_argument(
            "--linking", help="linking code columns (keyed tokens with --token-key-file, else deleted)"
        )
        parser.add_argument(
            "--financial",
            help="columns whose misuse could cause financial harm, e.g. card numbers (deleted; pseudonymize)",
        )
        parser.add_argument(
            "--token-key-file",
            help="file holding the token key (at least 16 bytes); the key itself is never an argument",
        )
        parser.add_argument(
            "--top-code",
            action="append",
            metavar="COL=VALUE",
            help="values ≥ VALUE become 'VALUE+'",
        )
        parser.add_argument(
            "--rare",
            action="append",
            metavar="COL=N",
            help="values seen fewer than N times → その他",
        )
        parser.add_argument(
            "--risk-threshold", type=int, help="class size counted as at risk below (default 5)"
        )
        parser.add_argument("--search", choices=["auto", "optimal", "heuristic"], help="default auto")
        parser.add_argument("--out", required=True, help="anonymized (or pseudonymized) CSV to write")
        parser.add_argument("--report", required=True, help="JSON report to write")

    def handle(self, *args, **options):
        mode = options.get("mode") or "anonymize"
        self._check_mode_options(mode, options)
        sep = options["sep"]
        if len(sep) != 1:
            raise CommandError(f"区切り文字は1文字です: {sep!r}（--sep must be one character）")
        source = Path(options["input"])
        out, report_path = Path(options["out"]), Path(options["report"])
        if not source.is_file():
            raise CommandError(f"入力ファイルがありません: {source}（input file not found）")
        hier_dir = Path(options["hierarchies"]) if options["hierarchies"] else None
        if mode == "anonymize":
            if hier_dir is None:
                raise CommandError(
                    "--hierarchies に階層ファイルのフォルダを指定してください（--hierarchies is required）"
                )
            if not hier_dir.is_dir():
                raise CommandError(f"階層のフォルダがありません: {hier_dir}（hierarchy folder not found）")
        for target in (out, report_path):
            if not target.parent.is_dir():
                raise CommandError(
                    f"出力先のフォルダがありません: {target.parent}（output folder not found）"
                )
        qi = _columns(options["qi"])
        if mode == "anonymize" and not qi:
            raise CommandError("--qi に準識別子の列を指定してください（--qi names no column）")

        try:
            table = pl.read_csv(source, separator=sep, infer_schema=False, encoding="utf8")
        except Exception as exc:  # polars raises several error types for unreadable files
            raise CommandError(f"入力ファイルを読めません: {source}: {exc}（cannot read the input）") from exc
        if table.columns and table.columns[0].startswith("\ufeff"):
            table = table.rename({table.columns[0]: table.columns[0].lstrip("\ufeff")})

        roles: dict[str, str] = {}
        declared = [
            ("identifier", _columns(options["identifiers"])),
            ("identification_code", _columns(options["id_codes"])),
            ("linking_code", _columns(options["linking"])),
            ("financial", _columns(options["financial"])),
            ("quasi_identifier", qi),
            ("sensitive", _columns(options["sensitive"])),
        ]
        for role, cols in declared:
            for c in cols:
                if c in roles:
                    raise CommandError(f"列「{c}」に役割が2つ指定されています（column {c!r} has two roles）")
                roles[c] = role
        missing = [c for c in roles if c not in table.columns]
        if missing:
            raise CommandError(
                f"列 {', '.join(missing)} が入力にありません（入力の列: {', '.join(table.columns)}）"
                f"（columns not in the input: {', '.join(missing)}）"
            )
        token_key = None
        if options["token_key_file"]:
            token_key = read_token_key(Path(options["token_key_file"]), self.stderr)

        if mode == "pseudonymize":
            self._pseudonymize(table, roles, token_key, source, out, report_path, sep)
        else:
            self._anonymize(table, roles, qi, token_key, hier_dir, source, out, report_path, sep, options)

    @staticmethod
    def _check_mode_options(mode: str, options: dict) -> None:
        """Refuse the options of the other mode; fill in the anonymize-only defaults."""
        other = ANONYMIZE_ONLY if mode == "pseudonymize" else PSEUDONYMIZE_ONLY
        given = [name for name in other if options.get(name) not in (None, [])]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            other_mode = "anonymize" if mode == "pseudonymize" else "pseudonymize"
            raise CommandError(
                f"{flags} は --mode {other_mode} でだけ使えます（{flags}: only with --mode {other_mode}）"
            )
        if mode == "anonymize":
            for name, value in ANONYMIZE_DEFAULTS.items():
                if options.get(name) is None:
                    options[name] = value
            for name in ("top_code", "rare"):
                options[name] = options.get(name) or []

    def _pseudonymize(
        self, table, roles, token_key, source: Path, out: Path, report_path: Path, sep: str
    ) -> None:
        started = time.perf_counter()
        try:
            result = pseudonymize(table, roles=roles, token_key=token_key)
        except AnonymizationError as exc:
            raise CommandError(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise CommandError(f"入力を処理できません: {exc}（cannot process the input）") from exc
        record = result.record
        steps = {s.step: s for s in record.steps}
        removed = [c for s in ("P1", "P2", "P4") for c in steps[s].columns]
        tokenized = steps["P3"].columns if steps["P3"].action == "tokenized" else []
        if steps["P3"].action == "deleted":
            removed += steps["P3"].columns
        report = {
            "kind": "仮名加工情報 (pseudonymized information)",
            "mode": "pseudonymize",
            "internal_use_only": True,
            "notice_ja": "仮名加工情報: 事業者内部での利用に限る。第三者に提供しない（法第41条第6項）。"
            "本人の識別のために他の情報と照合しない。本人への連絡等に利用しない。",
            "notice_en": "Pseudonymized information: for the business's internal use only. No provision to third"
            " parties (APPI Art. 41(6)), no matching with other information to identify a person, no contact"
            " with the persons.",
            "rows": table.height,
            "deleted_columns": removed,
            "tokenized_columns": tokenized,
            "processing_record": record.to_dict(),
            "input": self._input_info(source, table),
            "output": {"file": out.name, "rows": result.table.height, "columns": list(result.table.columns)},
            "seconds": round(time.perf_counter() - started, 3),
        }
        self._write(out, report_path, result.table, report, sep)
        self.stdout.write(
            f"仮名加工情報を作成しました（内部利用に限る・第三者提供不可） / pseudonymized (internal use only): "
            f"削除 / deleted {', '.join(removed) or '-'}; トークン化 / tokenized {', '.join(tokenized) or '-'} "
            f"→ {out}, {report_path}"
        )

    def _anonymize(
        self, table, roles, qi, token_key, hier_dir, source, out, report_path, sep, options
    ) -> None:
        sensitive = _columns(options["sensitive"])
        hierarchies: dict[str, Hierarchy] = {}
        used: dict[str, str] = {}
        try:
            for column in qi + sensitive:
                path = find_hierarchy(hier_dir, column)
                if path is None:
                    if column in sensitive:
                        continue
                    raise CommandError(
                        f"列「{column}」の階層ファイルがありません（{hier_dir}/{column}.csv または "
                        f"*_hierarchy_{column}.csv）（no hierarchy file for {column!r}）"
                    )
                hierarchies[column] = load_hierarchy_csv(path)
                used[column] = path.name
            t_measure = options["t_measure"] or (
                "hierarchical" if sensitive and sensitive[0] in hierarchies else "equal"
            )
            model = PrivacyModel(
                k=options["k"],
                l=options["l"],
                l_variant=options["l_variant"],
                t=options["t"],
                t_measure=t_measure,
                suppression=options["suppression"],
            )
            top_codes = [
                TopCode(c, float(v)) for c, v in (self._pair(x, "--top-code") for x in options["top_code"])
            ]
            rare = [RareCategory(c, int(v)) for c, v in (self._pair(x, "--rare") for x in options["rare"])]
            progress = Progress(self.stderr, enabled=options.get("verbosity", 1) > 0)
            started = time.perf_counter()
            result = anonymize(
                table,
                roles=roles,
                hierarchies=hierarchies,
                model=model,
                metric=options["metric"],
                token_key=token_key,
                top_codes=top_codes,
                rare_categories=rare,
                risk_class_size=options["risk_threshold"],
                search_method=options["search"],
                progress=progress,
                data_source=source.name,
                row_offset=2,  # data row 1 is line 2 of the file, after the header
            )
        except AnonymizationError as exc:
            raise CommandError(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise CommandError(f"入力を処理できません: {exc}（cannot process the input）") from exc
        progress.done(result.search.nodes_evaluated, result.search.nodes_total, result.search.seconds)

        report = result.report()
        report["mode"] = "anonymize"
        report["input"] = self._input_info(source, table)
        report["hierarchies"] = used
        report["output"] = {
            "file": out.name,
            "rows": result.table.height,
            "columns": list(result.table.columns),
        }
        report["seconds"] = round(time.perf_counter() - started, 3)
        self._write(out, report_path, result.table, report, sep)
        levels = ", ".join(
            f"{c}={lv}" for c, lv in zip(result.qi_columns, result.transformation, strict=True)
        )
        self.stdout.write(
            f"匿名加工情報を作成しました / anonymized: {levels}; "
            f"抑制（削除） {result.suppressed} 件 / suppressed (deleted); 出力 {result.table.height} 件 / rows; "
            f"{options['metric']} = {report['metrics'][options['metric']]:.6g}; "
            f"最大再識別リスク / highest risk {result.risk.highest:.4f} → {out}, {report_path}"
        )

    @staticmethod
    def _input_info(source: Path, table: pl.DataFrame) -> dict:
        return {
            "file": source.name,
            "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "rows": table.height,
            "columns": list(table.columns),
        }

    @staticmethod
    def _pair(text: str, option: str) -> tuple[str, str]:
        column, sep, value = text.partition("=")
        if not sep or not column or not value:
            raise CommandError(
                f"{option} は 列=値 の形で指定してください: {text!r}（{option} takes COL=VALUE）"
            )
        return column, value

    @staticmethod
    def _write(out: Path, report_path: Path, table: pl.DataFrame, report: dict, sep: str) -> None:
        temps: list[str] = []
        try:
            fd, tmp_out = tempfile.mkstemp(prefix=".anonymize-", suffix=".csv", dir=out.parent)
            os.close(fd)
            temps.append(tmp_out)
            table.write_csv(tmp_out, separator=sep)
            fd, tmp_report = tempfile.mkstemp(prefix=".anonymize-", suffix=".json", dir=report_path.parent)
            temps.append(tmp_report)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(report, fh, ensure_ascii=False, indent=2)
                fh.write("\n")
            os.replace(tmp_out, out)
            os.replace(tmp_report, report_path)
        except OSError as exc:
            raise CommandError(f"出力を書けません: {exc}（cannot write the output）") from exc
        finally:
            for t in temps:
                if os.path.exists(t):
                    os.unlink(t)
