"""Text helpers, canonical bytes, the My Number check digit and condition compilation, with hypothesis.

Every property test sets deadline=None: these tests must never depend on how long something takes.
"""

import json
import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.procedures.formengine import (
    DefinitionError,
    canonical_bytes,
    canonical_json,
    clean_answers,
    compile_condition,
    evaluate_condition,
    is_valid_my_number,
    my_number_check_digit,
    normalize_search_text,
    parse_definition,
    to_hiragana,
    to_katakana,
)
from madoguchi.procedures.formengine.canonical import canonical_json_trusted

SHA = "0" * 63 + "a"
HIRAGANA = st.text(alphabet=[chr(c) for c in range(0x3041, 0x3097)] + ["ゝ", "ゞ"], max_size=30)
KATAKANA = st.text(alphabet=[chr(c) for c in range(0x30A1, 0x30F7)] + ["ヽ", "ヾ"], max_size=30)


# --- search normalisation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["ｲﾇ", "いぬ", "イヌ", " イヌ ", "イ・ヌ", "ｲ-ﾇ", "イ－ヌ", "ｲｰﾇ"])
def test_search_text_kana_forms_compare_alike(text):
    assert normalize_search_text(text) == "イヌ"


@pytest.mark.parametrize("text", ["ＩＮＵ", "inu", "Inu", "ｉｎｕ", "I-NU", "I・NU"])
def test_search_text_latin_forms_compare_alike(text):
    assert normalize_search_text(text) == "inu"


def test_search_text_keeps_one_space_between_words_unless_asked_not_to():
    assert normalize_search_text("  犬の　登録\t申請 ") == "犬ノ 登録 申請"
    assert normalize_search_text("いぬ　とうろく").split() == ["イヌ", "トウロク"]
    assert normalize_search_text("い ぬ", keep_spaces=False) == "イヌ"
    assert normalize_search_text("I N U", keep_spaces=False) == "inu"


def test_search_text_prolonged_sound_mark_and_voicing():
    assert (
        normalize_search_text("コーヒー") == normalize_search_text("ｺｰﾋｰ") == normalize_search_text("こ-ひ-")
    )
    assert normalize_search_text("ｶﾞｽ") == normalize_search_text("がす") == "ガス"
    assert normalize_search_text("か゛す") == "ガス"  # a stand-alone voicing mark joins its kana
    assert normalize_search_text("住民票の写し") == "住民票ノ写シ"
    assert normalize_search_text("") == ""


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=40), st.booleans())
def test_search_text_is_idempotent(text, keep_spaces):
    once = normalize_search_text(text, keep_spaces=keep_spaces)
    assert normalize_search_text(once, keep_spaces=keep_spaces) == once


@settings(deadline=None)
@given(st.text(alphabet="あいうえおかがきぎアイウエオカガキギｱｲｳｶﾞ ・-ー", max_size=20))
def test_search_text_kana_script_does_not_matter(text):
    assert normalize_search_text(text) == normalize_search_text(to_katakana(text))
    assert normalize_search_text(text) == normalize_search_text(to_hiragana(text))


# --- kana ---------------------------------------------------------------------------------------------------
def test_to_katakana_examples():
    assert to_katakana("やまだ たろう") == "ヤマダ タロウ"
    assert to_katakana("ﾔﾏﾀﾞ ﾊﾟﾝ") == "ヤマダ パン"
    assert to_katakana("ゔぁ・ゝゞ") == "ヴァ・ヽヾ"
    assert to_katakana("漢字abc") == "漢字abc"
    assert to_hiragana("ヤマダ・ヴ") == "やまだ・ゔ"


@settings(deadline=None)
@given(HIRAGANA)
def test_hiragana_round_trip(text):
    assert to_hiragana(to_katakana(text)) == text


@settings(deadline=None)
@given(KATAKANA)
def test_katakana_round_trip(text):
    assert to_katakana(to_hiragana(text)) == text
    assert to_katakana(text) == text


@settings(deadline=None)
@given(KATAKANA)
def test_half_width_katakana_converts_back(text):
    half = "".join(unicodedata.normalize("NFKC", ch) for ch in text)  # full width stays full width
    assert to_katakana(half) == unicodedata.normalize("NFKC", text)


# --- My Number ----------------------------------------------------------------------------------------------
def reference_check_digit(base11: str) -> int:
    """Straight from the ordinance: P_n the n-th digit from the right, Q_n = n+1 (n <= 6) or n-5 (n >= 7)."""
    digits = [int(c) for c in base11]
    total = sum(digits[11 - n] * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return 0 if r <= 1 else 11 - r


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_my_number_check_digit(base):
    check = my_number_check_digit(base)
    assert check == str(reference_check_digit(base))
    assert is_valid_my_number(base + check)
    for wrong in set("0123456789") - {check}:
        assert not is_valid_my_number(base + wrong)


def test_my_number_known_values_and_bad_input():
    assert my_number_check_digit("12345678901") == "8"
    assert is_valid_my_number("123456789018")
    assert not is_valid_my_number("１２３４５６７８９０１８")
    with pytest.raises(ValueError):
        my_number_check_digit("1234567890")


@settings(deadline=None)
@given(st.text(alphabet="0123456789", min_size=11, max_size=11), st.sampled_from(["", " ", "-", "　"]))
def test_my_number_field_accepts_typed_forms(base, sep):
    number = base + my_number_check_digit(base)
    typed = sep.join([number[:4], number[4:8], number[8:]])
    wide = typed.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    d = parse_definition(
        {
            "schema": 1,
            "title": "t",
            "pages": [
                {"key": "p", "title": "p", "fields": [{"key": "mn", "type": "mynumber", "label": "番号"}]}
            ],
        }
    )
    assert clean_answers(d, {"mn": wide}) == ({"mn": number}, [])


# --- canonical bytes --------------------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=8,
)
ANSWERS = st.dictionaries(st.text(min_size=1, max_size=8), JSON_VALUES, max_size=6)


def shuffled(value, rng):
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@settings(deadline=None)
@given(ANSWERS, st.integers(0, 2**32))
def test_canonical_bytes_do_not_depend_on_dict_order(answers, seed):
    rng = random.Random(seed)
    try:
        a = canonical_bytes(definition_sha256=SHA, procedure_code="dog", answers=answers)
    except ValueError:  # two keys equal after NFC: refused whatever the order
        with pytest.raises(ValueError):
            canonical_bytes(definition_sha256=SHA, procedure_code="dog", answers=shuffled(answers, rng))
        return
    b = canonical_bytes(definition_sha256=SHA, procedure_code="dog", answers=shuffled(answers, rng))
    assert a == b
    decoded = json.loads(a)
    assert decoded["v"] == 1 and decoded["form"] == SHA and decoded["procedure"] == "dog"
    # re-encoding the decoded document gives the same bytes
    assert canonical_bytes(definition_sha256=SHA, procedure_code="dog", answers=decoded["answers"]) == a


MARKED_TEXT = st.text(
    alphabet=["e", "a", "\u0301", "\u0323", "\u3099", "か", "é", '"', "\\", "\n"], max_size=6
)
MARKED_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | MARKED_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(MARKED_TEXT, children, max_size=3),
    max_leaves=8,
)


@settings(deadline=None)
@given(MARKED_VALUES)
def test_the_fast_path_for_definitions_gives_the_same_bytes(value):
    try:
        expected = canonical_json(value)
    except ValueError:  # keys colliding after NFC: not something to_json() produces
        return
    assert canonical_json_trusted(value) == expected


def test_canonical_bytes_exact_form():
    out = canonical_bytes(
        definition_sha256=SHA,
        procedure_code="dog",
        answers={"b": [1, True, None], "a": "カ\u3099", "ç": {"z": 1, "y": 2}},
    )
    expected = (
        '{"answers":{"a":"ガ","b":[1,true,null],"ç":{"y":2,"z":1}},"form":"'
        + SHA
        + '","procedure":"dog","v":1}'
    )
    assert out == expected.encode("utf-8")


def test_canonical_bytes_nfc_normalises_keys_and_strings():
    a = canonical_bytes(definition_sha256=SHA, procedure_code="p", answers={"cafe\u0301": "e\u0301"})
    b = canonical_bytes(definition_sha256=SHA, procedure_code="p", answers={"café": "é"})
    assert a == b


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"definition_sha256": "A" * 64}, ValueError),
        ({"definition_sha256": "a" * 63}, ValueError),
        ({"procedure_code": ""}, ValueError),
        ({"answers": [1]}, TypeError),
        ({"answers": {"x": 1.5}}, TypeError),
        ({"answers": {"x": {1: "a"}}}, TypeError),
        ({"answers": {"x": {"a", "b"}}}, TypeError),
        ({"answers": {"cafe\u0301": 1, "café": 2}}, ValueError),
    ],
)
def test_canonical_bytes_refuses(kwargs, error):
    with pytest.raises(error):
        canonical_bytes(**({"definition_sha256": SHA, "procedure_code": "p", "answers": {}} | kwargs))


# --- compiled conditions agree with the interpreter -------------------------------------------------------
KEYS = ["n", "d", "c", "t"]
LEAVES = st.one_of(
    st.builds(
        lambda op, v: {"field": "n", "op": op, "value": v},
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        st.integers(-3, 3),
    ),
    st.builds(
        lambda op, v: {"field": "d", "op": op, "value": v},
        st.sampled_from(["eq", "gt", "lte"]),
        st.sampled_from(["2020-01-01", "2020-06-01"]),
    ),
    st.builds(
        lambda op, v: {"field": "c", "op": op, "value": v},
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from("abc"), min_size=1, max_size=3),
    ),
    st.builds(lambda v: {"field": "boxes", "op": "contains", "value": v}, st.sampled_from("abc")),
    st.builds(
        lambda k, op: {"field": k, "op": op},
        st.sampled_from([*KEYS, "boxes"]),
        st.sampled_from(["answered", "not_answered"]),
    ),
    st.builds(lambda v: {"field": "t", "op": "eq", "value": v}, st.sampled_from(["x", "y"])),
)
CONDITIONS = st.recursive(
    LEAVES,
    lambda sub: (
        st.builds(lambda xs: {"all": xs}, st.lists(sub, min_size=1, max_size=4))
        | st.builds(lambda xs: {"any": xs}, st.lists(sub, min_size=1, max_size=4))
        | st.builds(lambda x: {"not": x}, sub)
    ),
    max_leaves=8,
)
ENVS = st.fixed_dictionaries(
    {},
    optional={
        "n": st.integers(-4, 4),
        "d": st.sampled_from(["2019-12-31", "2020-01-01", "2020-03-01", "2020-06-01", "2021-01-01"]),
        "c": st.sampled_from("abc"),
        "boxes": st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True),
        "t": st.sampled_from(["x", "y", "z"]),
    },
)


@settings(deadline=None, max_examples=150)
@given(CONDITIONS, ENVS)
def test_compiled_conditions_agree_with_the_interpreter(cond, env):
    assert compile_condition(cond)(env) == evaluate_condition(cond, env)


@settings(deadline=None, max_examples=100)
@given(CONDITIONS)
def test_generated_conditions_are_valid_definitions(cond):
    fields = [
        {"key": "n", "type": "number", "label": "n"},
        {"key": "d", "type": "date", "label": "d"},
        {"key": "c", "type": "choice", "label": "c", "options": [{"value": v, "label": v} for v in "abc"]},
        {
            "key": "boxes",
            "type": "choice",
            "widget": "checkboxes",
            "label": "b",
            "options": [{"value": v, "label": v} for v in "abc"],
        },
        {"key": "t", "type": "text", "label": "t"},
        {"key": "z", "type": "text", "label": "z", "show_if": cond},
    ]
    d = parse_definition({"schema": 1, "title": "t", "pages": [{"key": "p", "title": "p", "fields": fields}]})
    assert d.field("z").condition is not None


@pytest.mark.parametrize(
    ("cond", "env", "expected"),
    [
        ({"field": "t", "op": "eq", "value": "x"}, {}, False),
        ({"field": "t", "op": "ne", "value": "x"}, {}, True),  # no answer is not "x"
        ({"field": "c", "op": "in", "value": ["a"]}, {}, False),
        ({"field": "c", "op": "not_in", "value": ["a"]}, {}, True),
        ({"field": "n", "op": "gt", "value": 0}, {}, False),
        ({"field": "n", "op": "lte", "value": 0}, {}, False),
        ({"field": "boxes", "op": "contains", "value": "a"}, {}, False),
        ({"field": "boxes", "op": "contains", "value": "a"}, {"boxes": ["b", "a"]}, True),
        ({"field": "n", "op": "answered"}, {"n": 0}, True),
        ({"field": "d", "op": "lt", "value": "2020-04-01"}, {"d": "2020-03-31"}, True),
        ({"any": [{"field": "n", "op": "answered"}, {"field": "t", "op": "answered"}]}, {"t": "x"}, True),
        ({"all": [{"field": "n", "op": "answered"}, {"field": "t", "op": "answered"}]}, {"t": "x"}, False),
        (
            {
                "all": [
                    {"field": "n", "op": "answered"},
                    {"field": "t", "op": "answered"},
                    {"field": "c", "op": "answered"},
                ]
            },
            {"t": "x", "n": 1, "c": "a"},
            True,
        ),
        (
            {
                "any": [
                    {"field": "n", "op": "answered"},
                    {"field": "t", "op": "answered"},
                    {"field": "c", "op": "answered"},
                ]
            },
            {},
            False,
        ),
    ],
)
def test_condition_semantics(cond, env, expected):
    assert compile_condition(cond)(env) is expected
    assert evaluate_condition(cond, env) is expected


def test_shuffled_helper_really_shuffles():
    # guards the order-independence test above against a helper that keeps the order
    rng = random.Random(3)
    value = {str(i): i for i in range(20)}
    assert list(shuffled(value, rng)) != list(value)


# --- robustness: junk never crashes --------------------------------------------------------------------
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["text", "choice", "group", "eq", "in", "a", "b", "today", "pdf", "ja"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["key", "type", "label", "ja", "fields", "options", "value", "show_if", "field", "op",
                         "min", "max", "all", "not", "widget", "accept", "pattern", "text", "title", "x"]),
        children, max_size=5,
    ),
    max_leaves=15,
)  # fmt: skip


@settings(deadline=None)
@given(JUNK)
def test_junk_fields_give_definition_errors_only(junk):
    data = {
        "schema": 1,
        "title": "t",
        "pages": [{"key": "p", "title": "p", "fields": [{"key": "a", "type": "text", "label": "a"}, junk]}],
    }
    try:
        parse_definition(data)
    except DefinitionError as exc:
        assert exc.problems and all(isinstance(p.code, str) for p in exc.problems)


ALL_TYPES_FORM = {
    "schema": 1,
    "title": "t",
    "pages": [
        {
            "key": "p",
            "title": "p",
            "fields": [
                {"key": "t", "type": "text", "label": "t", "pattern": "[a-z]+"},
                {"key": "ta", "type": "textarea", "label": "t"},
                {"key": "k", "type": "kana", "label": "k"},
                {"key": "n", "type": "number", "label": "n", "min": 0},
                {"key": "d", "type": "date", "label": "d", "max": "today"},
                {"key": "c", "type": "choice", "label": "c", "options": [{"value": "a", "label": "A"}]},
                {
                    "key": "cb",
                    "type": "choice",
                    "widget": "checkboxes",
                    "label": "c",
                    "options": [{"value": "a", "label": "A"}],
                    "max_choices": 1,
                },
                {"key": "e", "type": "email", "label": "e"},
                {"key": "ph", "type": "phone", "label": "p"},
                {"key": "pc", "type": "postcode", "label": "p"},
                {"key": "mn", "type": "mynumber", "label": "m"},
                {"key": "f", "type": "file", "label": "f", "max_files": 2},
                {
                    "key": "g",
                    "type": "group",
                    "label": "g",
                    "fields": [{"key": "gx", "type": "number", "label": "x", "required": True}],
                },
                {
                    "key": "ok",
                    "type": "declaration",
                    "text": "t",
                    "show_if": {"field": "n", "op": "gt", "value": 1},
                },
            ],
        }
    ],
}
KEYS_ALL = ["t", "ta", "k", "n", "d", "c", "cb", "e", "ph", "pc", "mn", "f", "g", "ok", "g.0.gx", "g.1.gx"]


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS_ALL), JUNK, max_size=8))
def test_junk_answers_give_problems_only_and_cleaning_is_idempotent(raw):
    d = parse_definition(ALL_TYPES_FORM)
    cleaned, problems = clean_answers(d, raw)
    assert all(p.path.split(".")[0] in d.by_key for p in problems)
    if not problems:
        assert clean_answers(d, cleaned) == (cleaned, [])
        canonical_bytes(definition_sha256=d.sha256, procedure_code="x", answers=cleaned)
