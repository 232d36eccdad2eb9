"""Form definitions: parsing, every definition problem (good and bad input), normalisation and hashing."""

import ast
import copy
import hashlib
import json
from pathlib import Path

import pytest

from madoguchi.procedures.formengine import (
    MAX_FIELDS,
    DefinitionError,
    FormDefinition,
    Problem,
    canonical_json,
    field_summary,
    parse_definition,
)


def doc(*fields, pages=None, **top):
    """A one-page document with these fields (or the given pages)."""
    out = {
        "schema": 1,
        "title": {"ja": "申請"},
        "pages": pages or [{"key": "p1", "title": "一", "fields": list(fields)}],
    }
    out.update(top)
    return out


def text(key, **kw):
    return {"key": key, "type": "text", "label": {"ja": key}, **kw}


def choice(key, values=("a", "b", "c"), **kw):
    return {
        "key": key,
        "type": "choice",
        "label": {"ja": key},
        "options": [{"value": v, "label": {"ja": v.upper()}} for v in values],
        **kw,
    }


def problems(data):
    with pytest.raises(DefinitionError) as info:
        parse_definition(data)
    return info.value.problems


def codes(data):
    return [p.code for p in problems(data)]


FULL = doc(
    pages=[
        {
            "key": "applicant",
            "title": {"ja": "申請者", "en": "Applicant"},
            "fields": [
                text("name", required=True, prefill="basic4.name", help={"ja": "戸籍上の氏名"}),
                {"key": "name_kana", "type": "kana", "label": "フリガナ", "prefill": "basic4.name_kana"},
                {"key": "email", "type": "email", "label": "メール", "prefill": "profile.email"},
                {"key": "phone", "type": "phone", "label": "電話", "prefill": "profile.phone"},
                {"key": "zip", "type": "postcode", "label": "郵便番号", "address_field": "address"},
                text("address", max_length=300, shared="address"),
                {"key": "birth", "type": "date", "label": "生年月日", "min": "1900-01-01", "max": "today"},
                {"key": "mn", "type": "mynumber", "label": "個人番号"},
            ],
        },
        {
            "key": "dog",
            "title": "犬",
            "show_if": {"field": "name", "op": "answered"},
            "fields": [
                choice("has_dog", ["yes", "no"], required=True),
                {
                    "key": "dogs",
                    "type": "group",
                    "label": "犬",
                    "item_label": {"ja": "犬"},
                    "min_items": 1,
                    "max_items": 3,
                    "show_if": {"field": "has_dog", "op": "eq", "value": "yes"},
                    "fields": [
                        text("dog_name", required=True),
                        {
                            "key": "dog_age",
                            "type": "number",
                            "label": "年齢",
                            "min": 0,
                            "max": 40,
                            "unit": "歳",
                        },
                        {
                            "key": "rabies",
                            "type": "date",
                            "label": "注射",
                            "show_if": {
                                "all": [
                                    {"field": "dog_age", "op": "gte", "value": 1},
                                    {"field": "has_dog", "op": "in", "value": ["yes"]},
                                ]
                            },
                        },
                    ],
                },
                choice(
                    "colours", ["black", "white", "brown"], widget="checkboxes", min_choices=1, max_choices=2
                ),
                {
                    "key": "fee",
                    "type": "number",
                    "label": "手数料",
                    "show_if": {"field": "colours", "op": "contains", "value": "black"},
                },
                {"key": "photo", "type": "file", "label": "写真", "accept": ["jpeg", "png"], "max_files": 2},
                {"key": "notes", "type": "textarea", "label": "備考", "min_length": 0, "max_length": 500},
                {"key": "agree", "type": "declaration", "text": {"ja": "内容に相違ありません。"}},
            ],
        },
    ],
    one_question_per_page=True,
)


def test_a_full_definition_parses():
    d = parse_definition(FULL)
    assert isinstance(d, FormDefinition)
    assert d.title == {"ja": "申請"}
    assert d.one_question_per_page is True
    assert [p.key for p in d.pages] == ["applicant", "dog"]
    keys = [f.key for f in d.fields_in_order]
    assert keys[:8] == ["name", "name_kana", "email", "phone", "zip", "address", "birth", "mn"]
    assert keys[9:13] == ["dogs", "dog_name", "dog_age", "rabies"]  # sub-fields right after their group
    assert [f.position for f in d.fields_in_order] == list(range(len(keys)))
    assert d.field("dog_age").group == "dogs" and d.field("dog_age").page == "dog"
    assert d.field("dogs").children[0].key == "dog_name"
    assert d.field("name").max_length == 200 and d.field("notes").max_length == 500
    assert d.field("email").max_length == 254
    assert d.field("photo").accept == ("jpeg", "png") and d.field("photo").max_bytes == 10 * 1024 * 1024
    assert d.field("agree").required is True and d.field("agree").label is None
    assert d.field("has_dog").widget == "radio"
    assert d.field("has_dog").options[0].value == "yes"
    assert d.field("fee").condition is not None and d.field("name").condition is None
    assert d.page("dog").condition is not None
    assert d.referenced == {"name", "has_dog", "dog_age", "colours"}
    with pytest.raises(KeyError):
        d.field("nope")
    assert len(d.sha256) == 64


def test_bytes_and_str_input_give_the_same_definition():
    a = parse_definition(FULL)
    b = parse_definition(json.dumps(FULL, ensure_ascii=False))
    c = parse_definition(json.dumps(FULL).encode())
    assert a.sha256 == b.sha256 == c.sha256
    assert a == b


def test_to_json_round_trips_and_fills_defaults():
    d = parse_definition(FULL)
    normalised = d.to_json()
    again = parse_definition(normalised)
    assert again.to_json() == normalised
    assert again.sha256 == d.sha256
    name = normalised["pages"][0]["fields"][0]
    assert name["required"] is True and name["max_length"] == 200
    assert normalised["pages"][1]["title"] == {"ja": "犬"}  # a plain string is shorthand for {"ja": …}
    assert normalised["pages"][0]["fields"][1]["label"] == {"ja": "フリガナ"}
    assert normalised["pages"][1]["fields"][0]["widget"] == "radio"
    # to_json gives copies: changing them changes nothing in the definition
    normalised["pages"][0]["fields"][0]["label"]["ja"] = "x"
    assert d.field("name").label["ja"] == "name"


def test_sha256_ignores_key_order_and_spelled_out_defaults():
    d = parse_definition(FULL)
    reordered = json.loads(json.dumps(FULL))
    reordered["pages"][0]["fields"][0] = dict(reversed(list(reordered["pages"][0]["fields"][0].items())))
    assert parse_definition(reordered).sha256 == d.sha256
    explicit = copy.deepcopy(FULL)
    explicit["pages"][0]["fields"][0]["max_length"] = 200
    assert parse_definition(explicit).sha256 == d.sha256
    changed = copy.deepcopy(FULL)
    changed["pages"][0]["fields"][0]["max_length"] = 201
    assert parse_definition(changed).sha256 != d.sha256


def test_sha256_is_the_hash_of_the_canonical_normalised_document():
    d = parse_definition(FULL)
    assert d.sha256 == hashlib.sha256(canonical_json(d.to_json())).hexdigest()
    decomposed = copy.deepcopy(FULL)
    decomposed["pages"][0]["fields"][0]["label"] = {"ja": "カ\u3099"}
    composed = copy.deepcopy(FULL)
    composed["pages"][0]["fields"][0]["label"] = {"ja": "ガ"}
    assert parse_definition(decomposed).sha256 == parse_definition(composed).sha256


def test_definition_is_immutable():
    d = parse_definition(FULL)
    with pytest.raises(AttributeError):
        d.title = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        d.field("name").required = False  # type: ignore[misc]
    assert isinstance(d.pages, tuple) and isinstance(d.fields_in_order, tuple)
    assert hash(d) == hash(parse_definition(FULL))


def test_field_summary():
    rows = field_summary(parse_definition(FULL))
    assert rows[0] == {
        "key": "name", "type": "text", "label_ja": "name", "required": True, "page": "applicant", "group": None,
        "has_condition": False,
    }  # fmt: skip
    by_key = {r["key"]: r for r in rows}
    assert by_key["rabies"]["group"] == "dogs" and by_key["rabies"]["has_condition"] is True
    assert by_key["agree"]["label_ja"] == "内容に相違ありません。"  # declaration: its statement


# --- Document level -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ([], "not_an_object"),
        (doc(text("a"), schema=2), "bad_schema"),
        (doc(text("a"), schema=True), "bad_schema"),
        ({"title": "t", "pages": [{"key": "p", "title": "p", "fields": [text("a")]}]}, "bad_schema"),
        (doc(text("a"), title={"en": "Only English"}), "missing_label"),
        (doc(text("a"), title=7), "bad_text"),
        (doc(text("a"), extra=1), "unknown_key"),
        (doc(text("a"), one_question_per_page="yes"), "bad_value"),
        ({"schema": 1, "title": "t", "pages": []}, "no_pages"),
        ({"schema": 1, "title": "t"}, "no_pages"),
        (doc(pages=[{"key": "p", "title": "p", "fields": []}]), "empty_page"),
        (doc(pages=[{"key": "P", "title": "p", "fields": [text("a")]}]), "bad_key"),
        (
            doc(
                pages=[
                    {"key": "p", "title": "p", "fields": [text("a")]},
                    {"key": "p", "title": "q", "fields": [text("b")]},
                ]
            ),
            "duplicate_key",
        ),
        (doc(pages=[{"key": "p", "fields": [text("a")]}]), "missing_label"),
    ],
)
def test_document_problems(data, code):
    assert code in codes(data)


def test_more_than_1000_fields_is_refused_before_anything_else():
    fields = [text(f"f{i}") for i in range(MAX_FIELDS + 1)]
    assert problems(doc(*fields)) == [Problem("too_many_fields", "/pages", {"max": 1000, "count": 1001})]
    assert len(parse_definition(doc(*fields[:MAX_FIELDS])).fields_in_order) == MAX_FIELDS


def test_every_problem_is_listed_not_just_the_first():
    data = doc(
        {"key": "Bad", "type": "text", "label": "x"},
        {"key": "a", "type": "nope", "label": "x"},
        {"key": "b", "type": "text"},
        text("c", show_if={"field": "zzz", "op": "eq", "value": "1"}),
        choice("d", []),
    )
    found = problems(data)
    assert [(p.code, p.path) for p in found] == [
        ("bad_key", "/pages/0/fields/0/key"),
        ("unknown_type", "/pages/0/fields/1/type"),
        ("missing_label", "/pages/0/fields/2/label"),
        ("no_options", "/pages/0/fields/4/options"),
        ("unknown_field_in_condition", "/pages/0/fields/3/show_if/field"),
    ]
    assert found[1].params == {"type": "nope"}
    assert "bad_key" in str(DefinitionError(found))


# --- Fields -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["a", "name_kana", "x1", "a" + "b" * 62])
def test_good_keys(key):
    assert parse_definition(doc(text(key))).field(key).key == key


@pytest.mark.parametrize("key", ["", "A", "1a", "_a", "a-b", "名前", "a" + "b" * 63, 5, None])
def test_bad_keys(key):
    field = text("x")
    field["key"] = key
    assert codes(doc(field)) == ["missing_key" if key is None else "bad_key"]


def test_duplicate_keys_across_pages_and_groups():
    group = {"key": "g", "type": "group", "label": "g", "fields": [text("a")]}
    pages = [
        {"key": "p1", "title": "1", "fields": [text("a")]},
        {"key": "p2", "title": "2", "fields": [group, {"key": "a", "type": "nope", "label": "x"}]},
    ]
    found = problems(doc(pages=pages))
    assert [p.code for p in found if p.code == "duplicate_key"] == ["duplicate_key", "duplicate_key"]
    assert found[0] == Problem("duplicate_key", "/pages/1/fields/0/fields/0/key", {"key": "a"})


def test_page_and_field_keys_are_separate_namespaces():
    assert (
        parse_definition(doc(pages=[{"key": "a", "title": "A", "fields": [text("a")]}])).page("a").key == "a"
    )


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ({"key": "a", "type": "radio", "label": "x"}, "unknown_type"),
        ({"key": "a", "label": "x"}, "missing_key"),
        ({"key": "a", "type": "text"}, "missing_label"),
        ({"key": "a", "type": "text", "label": {"en": "Name"}}, "missing_label"),
        ({"key": "a", "type": "text", "label": {"ja": "  "}}, "missing_label"),
        ({"key": "a", "type": "text", "label": {"ja": "名", "fr": "Nom"}}, "unknown_key"),
        ({"key": "a", "type": "text", "label": ["名"]}, "bad_text"),
        ({"key": "a", "type": "text", "label": "名", "help": {"en": "x"}}, "missing_label"),
        ({"key": "a", "type": "text", "label": "名", "requried": True}, "unknown_key"),
        ({"key": "a", "type": "text", "label": "名", "min": 1}, "unknown_key"),  # another type's key
        ({"key": "a", "type": "text", "label": "名", "required": "yes"}, "bad_value"),
        ({"key": "a", "type": "text", "label": "名", "prefill": "basic4.shoe_size"}, "unknown_prefill"),
        ({"key": "a", "type": "number", "label": "名", "prefill": "basic4.name"}, "prefill_type_mismatch"),
        ({"key": "a", "type": "text", "label": "名", "shared": "Not A Key"}, "bad_value"),
        ("a field", "not_an_object"),
    ],
)
def test_common_field_problems(field, code):
    assert codes(doc(field)) == [code]


@pytest.mark.parametrize("source", ["basic4.name", "basic4.address"])
def test_prefill_good(source):
    assert parse_definition(doc(text("a", prefill=source))).field("a").prefill == source


def test_english_label_kept_and_blank_english_dropped():
    d = parse_definition(
        doc(text("a", label={"ja": "名", "en": "Name"}), text("b", label={"ja": "名", "en": ""}))
    )
    assert d.field("a").label == {"ja": "名", "en": "Name"}
    assert d.field("b").label == {"ja": "名"}


# Type-specific keys: (good field, bad field, expected code)
TYPE_CASES = [
    (text("a", min_length=2, max_length=5), text("a", min_length=6, max_length=5), "min_greater_than_max"),
    (text("a", max_length=1), text("a", max_length=0), "bad_value"),
    (text("a", min_length=0), text("a", min_length=-1), "bad_value"),
    (text("a", max_length=10), text("a", max_length=True), "bad_value"),
    (text("a", pattern=r"[A-Z]{2}[0-9]+"), text("a", pattern="[A-Z"), "bad_pattern"),
    (text("a", pattern="a" * 200), text("a", pattern="a" * 201), "pattern_too_long"),
    (text("a", pattern="x"), text("a", pattern=5), "bad_value"),
    (
        {"key": "a", "type": "textarea", "label": "x", "max_length": 10},
        {"key": "a", "type": "textarea", "label": "x", "pattern": "x"},
        "unknown_key",
    ),
    (
        {"key": "a", "type": "kana", "label": "x", "min_length": 1, "max_length": 1},
        {"key": "a", "type": "kana", "label": "x", "min_length": 2, "max_length": 1},
        "min_greater_than_max",
    ),
    (
        {"key": "a", "type": "number", "label": "x", "min": -5, "max": -5, "unit": {"ja": "円", "en": "yen"}},
        {"key": "a", "type": "number", "label": "x", "min": 5, "max": 4},
        "min_greater_than_max",
    ),
    (
        {"key": "a", "type": "number", "label": "x", "min": 0},
        {"key": "a", "type": "number", "label": "x", "min": 0.5},
        "bad_value",
    ),
    (
        {"key": "a", "type": "date", "label": "x", "min": "2020-01-01", "max": "2020-12-31"},
        {"key": "a", "type": "date", "label": "x", "min": "2021-01-01", "max": "2020-12-31"},
        "min_greater_than_max",
    ),
    (
        {"key": "a", "type": "date", "label": "x", "min": "today"},
        {"key": "a", "type": "date", "label": "x", "min": "2020-02-30"},
        "bad_value",
    ),
    (
        {"key": "a", "type": "date", "label": "x", "max": "2020-02-29"},
        {"key": "a", "type": "date", "label": "x", "max": "yesterday"},
        "bad_value",
    ),
    (choice("a", ["x"]), choice("a", []), "no_options"),
    (choice("a", ["x", "y"]), choice("a", ["x", "x"]), "duplicate_option"),
    (choice("a", ["x"], widget="select"), choice("a", ["x"], widget="dropdown"), "bad_widget"),
    (choice("a", [" x"]) | {"options": [{"value": "x", "label": "X"}]}, choice("a", [" x"]), "bad_value"),
    (choice("a"), choice("a") | {"options": [{"value": "x"}]}, "missing_label"),
    (choice("a"), choice("a") | {"options": [{"value": "x", "label": "X", "hint": "h"}]}, "unknown_key"),
    (choice("a"), choice("a") | {"options": ["x"]}, "not_an_object"),
    (choice("a", widget="checkboxes", min_choices=1), choice("a", min_choices=1), "key_not_allowed"),
    (
        choice("a", widget="checkboxes", min_choices=1, max_choices=2),
        choice("a", widget="checkboxes", min_choices=3, max_choices=2),
        "min_greater_than_max",
    ),
    (
        choice("a", widget="checkboxes", min_choices=3),
        choice("a", widget="checkboxes", min_choices=4),
        "min_choices_exceeds_options",
    ),
    (
        {
            "key": "a",
            "type": "file",
            "label": "x",
            "accept": ["pdf", "docx", "xlsx"],
            "max_bytes": 1,
            "max_files": 5,
        },
        {"key": "a", "type": "file", "label": "x", "accept": ["pdf", "exe"]},
        "unknown_file_type",
    ),
    (
        {"key": "a", "type": "file", "label": "x", "accept": ["pdf"]},
        {"key": "a", "type": "file", "label": "x", "accept": []},
        "bad_value",
    ),
    (
        {"key": "a", "type": "file", "label": "x", "max_files": 1},
        {"key": "a", "type": "file", "label": "x", "max_files": 0},
        "bad_value",
    ),
    (
        {"key": "a", "type": "declaration", "text": "誓います", "required": True},
        {"key": "a", "type": "declaration", "text": "誓います", "required": False},
        "declaration_always_required",
    ),
    (
        {"key": "a", "type": "declaration", "text": "誓います", "label": "宣誓"},
        {"key": "a", "type": "declaration", "label": "宣誓"},
        "missing_label",
    ),
    (
        {"key": "a", "type": "group", "label": "g", "fields": [text("b")], "min_items": 2, "max_items": 2},
        {"key": "a", "type": "group", "label": "g", "fields": [text("b")], "min_items": 3, "max_items": 2},
        "min_greater_than_max",
    ),
    (
        {"key": "a", "type": "group", "label": "g", "fields": [text("b")]},
        {"key": "a", "type": "group", "label": "g", "fields": []},
        "empty_group",
    ),
    (
        {"key": "a", "type": "group", "label": "g", "fields": [text("b")]},
        {
            "key": "a",
            "type": "group",
            "label": "g",
            "fields": [{"key": "b", "type": "group", "label": "h", "fields": [text("c")]}],
        },
        "group_in_group",
    ),
    (
        {"key": "a", "type": "phone", "label": "x"},
        {"key": "a", "type": "phone", "label": "x", "max_length": 13},
        "unknown_key",
    ),
    (
        {"key": "a", "type": "mynumber", "label": "x"},
        {"key": "a", "type": "mynumber", "label": "x", "pattern": "[0-9]{12}"},
        "unknown_key",
    ),
    (
        {"key": "a", "type": "email", "label": "x", "max_length": 100},
        {"key": "a", "type": "email", "label": "x", "min_length": 3},
        "unknown_key",
    ),
]


@pytest.mark.parametrize(
    ("good", "bad", "code"), TYPE_CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(TYPE_CASES)]
)
def test_type_specific_keys(good, bad, code):
    parse_definition(doc(good))
    assert code in codes(doc(bad))


def test_default_accept_is_every_file_type():
    d = parse_definition(doc({"key": "a", "type": "file", "label": "x"}))
    assert d.field("a").accept == ("pdf", "jpeg", "png", "docx", "xlsx")
    assert d.field("a").max_files == 1


# --- Postcode address field -------------------------------------------------------------------------------
def postcode(address_field):
    return {"key": "zip", "type": "postcode", "label": "〒", "address_field": address_field}


def test_address_field_good():
    assert parse_definition(doc(postcode("addr"), text("addr"))).field("zip").address_field == "addr"
    group = {"key": "g", "type": "group", "label": "g", "fields": [postcode("addr"), text("addr")]}
    assert parse_definition(doc(group)).field("zip").address_field == "addr"


@pytest.mark.parametrize(
    "fields",
    [
        [text("addr"), postcode("addr")],  # earlier
        [postcode("addr"), {"key": "addr", "type": "textarea", "label": "x"}],  # not text
        [postcode("nowhere"), text("addr")],  # unknown
        [postcode("zip")],  # itself
        [postcode(["addr"]), text("addr")],  # not a key
        [
            {"key": "g", "type": "group", "label": "g", "fields": [postcode("addr")]},
            text("addr"),
        ],  # other scope
    ],
)
def test_address_field_bad(fields):
    assert codes(doc(*fields)) == ["bad_address_field"]


# --- Conditions ----------------------------------------------------------------------------------------
NUMBER = {"key": "n", "type": "number", "label": "n"}
DATE = {"key": "d", "type": "date", "label": "d"}
BOXES = choice("boxes", widget="checkboxes")
GROUP = {"key": "g", "type": "group", "label": "g", "fields": [text("gx"), text("gy")]}
BASE = [text("t"), NUMBER, DATE, choice("c"), BOXES, GROUP, {"key": "ok", "type": "declaration", "text": "t"}]


def with_condition(cond):
    return doc(*BASE, text("z", show_if=cond))


GOOD_CONDITIONS = [
    {"field": "t", "op": "eq", "value": "x"},
    {"field": "t", "op": "ne", "value": "x"},
    {"field": "c", "op": "in", "value": ["a", "b"]},
    {"field": "c", "op": "not_in", "value": ["a"]},
    {"field": "n", "op": "gt", "value": 3},
    {"field": "n", "op": "lte", "value": -3},
    {"field": "n", "op": "eq", "value": 0},
    {"field": "d", "op": "gte", "value": "2020-04-01"},
    {"field": "d", "op": "lt", "value": "2020-04-01"},
    {"field": "boxes", "op": "contains", "value": "b"},
    {"field": "g", "op": "answered"},
    {"field": "t", "op": "not_answered", "value": None},
    {"field": "ok", "op": "eq", "value": True},
    {"all": [{"field": "t", "op": "answered"}, {"not": {"field": "c", "op": "eq", "value": "a"}}]},
    {"any": [{"field": "t", "op": "answered"}, {"all": [{"field": "n", "op": "gt", "value": 1}]}]},
]


@pytest.mark.parametrize("cond", GOOD_CONDITIONS)
def test_good_conditions(cond):
    d = parse_definition(with_condition(cond))
    assert d.field("z").show_if == (
        {k: v for k, v in cond.items() if v is not None} if "field" in cond else cond
    )


BAD_CONDITIONS = [
    ({"field": "nope", "op": "eq", "value": "x"}, "unknown_field_in_condition"),
    ({"field": "z", "op": "answered"}, "later_field_in_condition"),  # itself
    ({"field": "gx", "op": "answered"}, "condition_crosses_group"),
    ({"field": "t", "op": "like", "value": "x"}, "bad_op"),
    ({"field": "t", "value": "x"}, "missing_key"),
    ({"field": "c", "op": "in", "value": "a"}, "value_must_be_list"),
    ({"field": "c", "op": "in", "value": []}, "empty_condition_list"),
    ({"field": "c", "op": "eq", "value": "z"}, "unknown_option_in_condition"),
    ({"field": "c", "op": "in", "value": ["a", "z"]}, "unknown_option_in_condition"),
    ({"field": "boxes", "op": "contains", "value": "z"}, "unknown_option_in_condition"),
    ({"field": "t", "op": "eq"}, "missing_value"),
    ({"field": "t", "op": "answered", "value": "x"}, "unexpected_value"),
    ({"field": "t", "op": "gt", "value": "x"}, "op_not_allowed_for_type"),
    ({"field": "t", "op": "contains", "value": "x"}, "op_not_allowed_for_type"),
    ({"field": "boxes", "op": "eq", "value": "a"}, "op_not_allowed_for_type"),
    ({"field": "g", "op": "eq", "value": "a"}, "op_not_allowed_for_type"),
    ({"field": "n", "op": "gt", "value": "3"}, "bad_condition_value"),
    ({"field": "n", "op": "eq", "value": True}, "bad_condition_value"),
    ({"field": "d", "op": "gt", "value": "2020/04/01"}, "bad_condition_value"),
    ({"field": "d", "op": "gt", "value": "2020-02-30"}, "bad_condition_value"),
    ({"field": "ok", "op": "eq", "value": "yes"}, "bad_condition_value"),
    ({"field": "t", "op": "eq", "value": 1}, "bad_condition_value"),
    ({"field": "t", "op": "eq", "value": "x", "extra": 1}, "unknown_key"),
    ({"all": []}, "empty_condition_list"),
    ({"all": {"field": "t", "op": "answered"}}, "bad_value"),
    ({"any": [{"field": "t", "op": "answered"}], "not": {}}, "unknown_key"),
    ({"not": {"field": "t", "op": "answered"}, "all": []}, "empty_condition_list"),
    ({"op": "eq"}, "bad_condition"),
    ("t == x", "bad_condition"),
    ({"not": {"not": {"field": "nope", "op": "answered"}}}, "unknown_field_in_condition"),
]


@pytest.mark.parametrize(("cond", "code"), BAD_CONDITIONS)
def test_bad_conditions(cond, code):
    assert code in codes(with_condition(cond))


def test_condition_nesting_is_limited():
    cond = {"field": "t", "op": "answered"}
    for _ in range(19):
        cond = {"not": cond}
    parse_definition(with_condition(cond))
    assert codes(with_condition({"not": cond})) == ["condition_too_deep"]


def test_condition_on_a_later_field_is_refused():
    data = doc(text("a", show_if={"field": "b", "op": "answered"}), text("b"))
    assert problems(data) == [
        Problem("later_field_in_condition", "/pages/0/fields/0/show_if/field", {"field": "b"})
    ]


def test_page_conditions_may_only_use_earlier_pages():
    pages = [
        {"key": "p1", "title": "1", "fields": [text("a")]},
        {"key": "p2", "title": "2", "show_if": {"field": "a", "op": "answered"}, "fields": [text("b")]},
    ]
    parse_definition(doc(pages=pages))
    pages[1]["show_if"] = {"field": "b", "op": "answered"}
    assert codes(doc(pages=pages)) == ["later_field_in_condition"]


def test_conditions_inside_a_group():
    # A sub-field may use earlier sub-fields of its own group and earlier top-level fields.
    group = {
        "key": "g", "type": "group", "label": "g",
        "fields": [text("gx"), text("gy", show_if={"all": [{"field": "gx", "op": "answered"}, {"field": "t", "op": "answered"}]})],
    }  # fmt: skip
    parse_definition(doc(text("t"), group))
    # …but not the sub-fields of another group, nor its own group as a whole
    other = {
        "key": "h",
        "type": "group",
        "label": "h",
        "fields": [text("hx", show_if={"field": "gx", "op": "answered"})],
    }
    assert codes(doc(text("t"), group, other)) == ["condition_crosses_group"]
    own = {
        "key": "h",
        "type": "group",
        "label": "h",
        "fields": [text("hx", show_if={"field": "h", "op": "answered"})],
    }
    assert codes(doc(own)) == ["condition_on_own_group"]
    # a top-level field may use a group as a whole (answered)
    parse_definition(doc(text("t"), group, text("after", show_if={"field": "g", "op": "not_answered"})))


def test_in_values_are_deduplicated():
    d = parse_definition(with_condition({"field": "c", "op": "in", "value": ["a", "a", "b"]}))
    assert d.field("z").show_if == {"field": "c", "op": "in", "value": ["a", "b"]}


def test_a_json_bomb_of_nesting_is_a_problem_not_a_crash():
    assert codes("[" * 100_000 + "]" * 100_000) in (["bad_json"], ["not_an_object"])


# --- Purity -----------------------------------------------------------------------------------------------
def test_the_engine_imports_no_django():
    root = Path(__file__).resolve().parents[1] / "formengine"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert not name.startswith("django"), f"{path.name} imports {name}"
                if name.startswith("madoguchi."):
                    assert name in ("madoguchi.core.wareki", "madoguchi.core.checkdigits"), (
                        f"{path.name} imports {name}"
                    )
