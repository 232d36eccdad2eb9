"""The procedures form engine (procedures/formengine) vs straightforward baselines, side by side in one run.

1. Saving a definition, the engine's part: parse + validate + SHA-256 of a generated 200-field definition
   (100 show-if rules of mixed kinds, two groups) from its JSON bytes, `parse_definition`, vs a naive
   validator that re-walks the document for every lookup (duplicate keys by scanning the keys seen so far,
   each condition's field found by scanning all fields) and hashes `json.dumps(sort_keys=True)`. Also at the
   1,000-field limit, to show how both scale. Target: the whole save <= 1 s (the database write is measured
   elsewhere; here only the engine's part).
2. Evaluating the 100 show-if rules of one page: the closures compiled at parse time vs the interpreter
   that walks the JSON condition dicts on every evaluation (`evaluate_condition`), same answers, results
   compared rule by rule. Also the whole per-request call on that page from posted strings
   (`visible_fields` and `clean_answers` with page=…), which cleans the answers the rules read.
   Target: 100 rules per page <= 10 ms.

Figures are medians of many repetitions (time.perf_counter around each operation).

    .venv/bin/python bench/procedures_forms.py [--repeat 200]
"""

import argparse
import hashlib
import json
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from madoguchi.procedures.formengine import (  # noqa: E402
    DefinitionError,
    clean_answers,
    evaluate_condition,
    parse_definition,
    visible_fields,
)

CHOICES = ["yes", "no", "maybe", "later"]


# --- Generated definitions ------------------------------------------------------------------------------
def _label(key):
    return {"ja": f"項目{key}", "en": f"Item {key}"}


def _source_fields(prefix):
    """20 fields that conditions can read: choices, checkboxes, numbers, dates, texts."""
    out = []
    for i in range(20):
        key = f"{prefix}{i}"
        kind = i % 5
        if kind == 0:
            f = {"type": "choice", "options": [{"value": v, "label": {"ja": v}} for v in CHOICES]}
        elif kind == 1:
            f = {
                "type": "choice",
                "widget": "checkboxes",
                "options": [{"value": v, "label": {"ja": v}} for v in CHOICES],
            }
        elif kind == 2:
            f = {"type": "number", "min": 0, "max": 1000, "unit": {"ja": "円"}}
        elif kind == 3:
            f = {"type": "date", "min": "1900-01-01", "max": "today"}
        else:
            f = {"type": "text", "max_length": 50}
        out.append({"key": key, "label": _label(key), **f})
    return out


def _rule(rng, sources):
    """A random show-if rule over the source fields, of mixed kinds."""

    def leaf():
        s = rng.choice(sources)
        kind, widget = s["type"], s.get("widget")
        if widget == "checkboxes":
            return rng.choice(
                [
                    {"field": s["key"], "op": "contains", "value": rng.choice(CHOICES)},
                    {"field": s["key"], "op": "answered"},
                ]
            )
        if kind == "choice":
            return rng.choice(
                [
                    {"field": s["key"], "op": "eq", "value": rng.choice(CHOICES)},
                    {"field": s["key"], "op": "ne", "value": rng.choice(CHOICES)},
                    {"field": s["key"], "op": "in", "value": rng.sample(CHOICES, 2)},
                    {"field": s["key"], "op": "not_in", "value": rng.sample(CHOICES, 2)},
                ]
            )
        if kind == "number":
            return {
                "field": s["key"],
                "op": rng.choice(["gt", "gte", "lt", "lte"]),
                "value": rng.randrange(1000),
            }
        if kind == "date":
            return {
                "field": s["key"],
                "op": rng.choice(["gt", "lte"]),
                "value": f"20{rng.randrange(10, 26)}-04-01",
            }
        return {"field": s["key"], "op": rng.choice(["answered", "not_answered"])}

    shape = rng.randrange(5)
    if shape <= 1:
        return leaf()
    if shape == 2:
        return {"all": [leaf() for _ in range(rng.randrange(2, 4))]}
    if shape == 3:
        return {"any": [leaf(), {"all": [leaf(), leaf()]}]}
    return {"not": {"any": [leaf(), leaf()]}}


def big_definition(n_fields, n_rules, seed=2026):
    """n_fields fields (sources on the first page, groups of 3 sub-fields), n_rules show-if rules."""
    rng = random.Random(seed)
    sources = _source_fields("s")
    fields = list(sources)
    rules_left = n_rules
    i = 0
    count = len(fields)  # fields in document order, sub-fields included
    while count + (4 if i % 25 == 24 else 1) <= n_fields:
        key = f"f{i}"
        if i % 25 == 24:
            f = {
                "key": key, "type": "group", "label": _label(key), "max_items": 5,
                "fields": [
                    {"key": f"{key}_name", "type": "text", "label": _label("name"), "required": True},
                    {"key": f"{key}_kana", "type": "kana", "label": _label("kana")},
                    {"key": f"{key}_age", "type": "number", "label": _label("age"), "min": 0},
                ],
            }  # fmt: skip
        else:
            kind = ["text", "kana", "email", "phone", "postcode", "textarea", "number", "date"][i % 8]
            f = {"key": key, "type": kind, "label": _label(key), "required": i % 3 == 0}
        if rules_left and i % 3 != 2:
            f["show_if"] = _rule(rng, sources)
            rules_left -= 1
        fields.append(f)
        count += 4 if f["type"] == "group" else 1
        i += 1
    while count < n_fields:
        fields.append({"key": f"f{i}", "type": "text", "label": _label(i)})
        count += 1
        i += 1
    assert rules_left == 0, "not enough fields for the rules"
    pages = [
        {"key": f"p{p}", "title": {"ja": f"ページ{p}"}, "fields": fields[p * 20 : (p + 1) * 20]}
        for p in range((len(fields) + 19) // 20)
    ]
    return {"schema": 1, "title": {"ja": "ベンチマーク申請"}, "pages": pages}


def rules_definition(n_rules, seed=7):
    """A source page of 20 fields and a page of n_rules fields, each with a show-if rule."""
    rng = random.Random(seed)
    sources = _source_fields("s")
    rules = [
        {"key": f"r{i}", "type": "text", "label": _label(i), "show_if": _rule(rng, sources)}
        for i in range(n_rules)
    ]
    return {
        "schema": 1,
        "title": {"ja": "条件"},
        "pages": [
            {"key": "sources", "title": {"ja": "前提"}, "fields": sources},
            {"key": "rules", "title": {"ja": "条件付き"}, "fields": rules},
        ],
    }


def posted_answers(seed=11):
    """What a browser posts for the source page: strings (and lists for checkboxes)."""
    rng = random.Random(seed)
    raw = {}
    for i, s in enumerate(_source_fields("s")):
        key = s["key"]
        if i % 7 == 6:
            continue  # unanswered
        kind = s["type"]
        if s.get("widget") == "checkboxes":
            raw[key] = rng.sample(CHOICES, 2)
        elif kind == "choice":
            raw[key] = rng.choice(CHOICES)
        elif kind == "number":
            raw[key] = f"{rng.randrange(1000):,}".translate(
                str.maketrans("0123456789,", "０１２３４５６７８９，")
            )
        elif kind == "date":
            raw[key] = rng.choice(["令和2年4月1日", "2015/6/1", "H30.1.1", "2024-12-31"])
        else:
            raw[key] = "あいう"
    return raw


# --- Baseline: the naive validator -------------------------------------------------------------------------
NAIVE_KEY = r"[a-z][a-z0-9_]{0,62}"
NAIVE_TYPES = ["text", "textarea", "kana", "number", "date", "choice", "email", "phone", "postcode", "mynumber",
               "file", "group", "declaration"]  # fmt: skip


def naive_save(data: bytes):
    """Re-walk the document for every lookup; no normalisation; hash of json.dumps(sort_keys=True)."""
    doc = json.loads(data)
    problems = []
    flat = []  # (key, group, page index) in document order
    for p, page in enumerate(doc["pages"]):
        for f in page["fields"]:
            flat.append((f, None, p))
            for c in f.get("fields", []):
                flat.append((c, f["key"], p))
    seen = []
    for f, _group, _p in flat:
        key = f.get("key")
        if not isinstance(key, str) or not re.fullmatch(NAIVE_KEY, key):
            problems.append("bad_key")
        elif key in seen:  # list scan
            problems.append("duplicate_key")
        seen.append(key)
        if f.get("type") not in NAIVE_TYPES:
            problems.append("unknown_type")
        label = f.get("label")
        if f.get("type") != "declaration" and not (isinstance(label, dict) and label.get("ja")):
            problems.append("missing_label")

    def check(cond, position, group):
        if "all" in cond or "any" in cond:
            for c in cond.get("all") or cond.get("any"):
                check(c, position, group)
            return
        if "not" in cond:
            check(cond["not"], position, group)
            return
        for j, (g, g_group, _p) in enumerate(flat):  # linear search for every reference
            if g.get("key") == cond["field"]:
                if j >= position:
                    problems.append("later_field_in_condition")
                elif g_group is not None and g_group != group:
                    problems.append("condition_crosses_group")
                break
        else:
            problems.append("unknown_field_in_condition")

    for position, (f, group, _p) in enumerate(flat):
        if "show_if" in f:
            check(f["show_if"], position, group)
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return problems, digest


def engine_save(data: bytes):
    try:
        return [], parse_definition(data).sha256
    except DefinitionError as exc:
        return [p.code for p in exc.problems], None


# --- Timing ----------------------------------------------------------------------------------------------
def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def broken(doc):
    """The same document with a duplicate key, a reference to a later field and one to an unknown field."""
    doc = json.loads(json.dumps(doc))
    fields = doc["pages"][1]["fields"]
    fields[1]["key"] = fields[0]["key"]
    fields[2]["show_if"] = {"field": doc["pages"][-1]["fields"][-1]["key"], "op": "answered"}
    fields[3]["show_if"] = {"field": "nowhere", "op": "answered"}
    return doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200, help="repetitions of each save (x10 for rules)")
    args = parser.parse_args()

    # 1. Save: 200 fields / 100 rules, and the 1,000-field limit.
    save = {}
    for n_fields, n_rules in ((200, 100), (1000, 500)):
        doc = big_definition(n_fields, n_rules)
        data = json.dumps(doc, ensure_ascii=False).encode()
        definition = parse_definition(data)
        assert len(definition.fields_in_order) == n_fields
        assert sum(f.show_if is not None for f in definition.fields_in_order) == n_rules
        assert naive_save(data)[0] == []
        bad = json.dumps(broken(doc)).encode()
        naive_codes, engine_codes = set(naive_save(bad)[0]), set(engine_save(bad)[0])
        assert naive_codes == {"duplicate_key", "later_field_in_condition", "unknown_field_in_condition"}
        assert naive_codes <= engine_codes, (naive_codes, engine_codes)
        repeat = args.repeat if n_fields == 200 else max(args.repeat // 5, 10)
        engine_ms = median_ms(lambda data=data: engine_save(data), repeat)
        naive_ms = median_ms(lambda data=data: naive_save(data), repeat)
        save[n_fields] = {
            "fields": n_fields,
            "show_if_rules": n_rules,
            "json_bytes": len(data),
            "repetitions": repeat,
            "engine_ms_median": round(engine_ms, 3),
            "naive_ms_median": round(naive_ms, 3),
            "naive_over_engine": round(naive_ms / engine_ms, 2),
        }

    # 2. 100 show-if rules on one page.
    rules_def = parse_definition(rules_definition(100))
    page = rules_def.page("rules")
    raw = posted_answers()
    env, problems = clean_answers(rules_def, raw, page="sources", today=None)
    assert not problems, problems
    compiled = [f.condition for f in page.fields]
    trees = [f.show_if for f in page.fields]
    results = [c(env) for c in compiled]
    assert results == [evaluate_condition(t, env) for t in trees], "compiled and interpreted rules disagree"
    expected_visible = [f.key for f, shown in zip(page.fields, results, strict=True) if shown]
    assert [f.key for f in visible_fields(rules_def, raw, page="rules")] == expected_visible
    reps = args.repeat * 10
    compiled_ms = median_ms(lambda: [c(env) for c in compiled], reps)
    interpreted_ms = median_ms(lambda: [evaluate_condition(t, env) for t in trees], reps)
    visible_ms = median_ms(lambda: visible_fields(rules_def, raw, page="rules"), reps)
    posted = {**raw, **{k: "回答" for k in expected_visible}}
    clean_ms = median_ms(lambda: clean_answers(rules_def, posted, page="rules"), reps)

    result = {
        "benchmark": "procedures_forms",
        "python": platform.python_version(),
        "save": save[200],
        "save_at_limit": save[1000],
        "rules": {
            "rules": len(compiled),
            "visible_with_these_answers": len(expected_visible),
            "repetitions": reps,
            "compiled_ms_median": round(compiled_ms, 4),
            "interpreted_ms_median": round(interpreted_ms, 4),
            "interpreted_over_compiled": round(interpreted_ms / compiled_ms, 2),
            "visible_fields_page_from_posted_strings_ms_median": round(visible_ms, 4),
            "clean_answers_page_from_posted_strings_ms_median": round(clean_ms, 4),
        },
        "targets": {
            "save_engine_part_le_1000_ms": save[200]["engine_ms_median"] <= 1000,
            "rules_100_per_page_le_10_ms": max(compiled_ms, visible_ms) <= 10,
        },
        "identical_results": True,
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "procedures_forms.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
