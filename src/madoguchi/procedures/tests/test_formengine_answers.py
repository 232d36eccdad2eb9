"""Cleaning answers: every type with good and bad input, required/hidden fields, pages, groups."""

from datetime import UTC, date

import pytest

from madoguchi.procedures.formengine import Problem, clean_answers, parse_definition, visible_fields

TODAY = date(2026, 11, 29)


def one(field, value, **kw):
    """Clean one answer of a one-field form: (cleaned value or None, [problem codes])."""
    d = parse_definition(
        {"schema": 1, "title": "t", "pages": [{"key": "p", "title": "p", "fields": [field]}]}
    )
    cleaned, problems = clean_answers(d, {field["key"]: value}, today=TODAY, **kw)
    return cleaned.get(field["key"]), [p.code for p in problems]


def ok(field, value, expected):
    assert one(field, value) == (expected, [])


def bad(field, value, code, params=None):
    d = parse_definition(
        {"schema": 1, "title": "t", "pages": [{"key": "p", "title": "p", "fields": [field]}]}
    )
    cleaned, problems = clean_answers(d, {field["key"]: value}, today=TODAY)
    assert field["key"] not in cleaned
    assert [p.code for p in problems] == [code]
    assert problems[0].path == field["key"]
    if params is not None:
        assert problems[0].params == params


def f(kind, **kw):
    return {"key": "a", "type": kind, "label": "a", **kw}


# --- blank and required -----------------------------------------------------------------------------------
@pytest.mark.parametrize("blank", [None, "", "   ", "\u3000", [], [""], False])
def test_blank_is_no_answer(blank):
    assert one(f("text"), blank) == (None, [])
    bad(f("text", required=True), blank, "required")


def test_unknown_keys_are_dropped():
    d = parse_definition(
        {"schema": 1, "title": "t", "pages": [{"key": "p", "title": "p", "fields": [f("text")]}]}
    )
    assert clean_answers(d, {"a": "x", "csrfmiddlewaretoken": "y", "b": 1}) == ({"a": "x"}, [])


# --- text / textarea ------------------------------------------------------------------------------------
def test_text():
    ok(f("text"), "  山田 太郎 ", "山田 太郎")
    ok(f("text"), "カ\u3099", "ガ")  # NFC
    ok(f("text"), ["one"], "one")  # a one-element list (QueryDict as dict of lists)
    ok(f("text", min_length=2, max_length=3), "abc", "abc")
    ok(f("text", pattern=r"[A-Z]{2}[0-9]{4}"), "AB1234", "AB1234")
    bad(f("text", min_length=2), "a", "too_short", {"min": 2})
    bad(f("text"), "あ" * 201, "too_long", {"max": 200})
    bad(f("text", max_length=3), "abcd", "too_long", {"max": 3})
    bad(f("text", pattern=r"[A-Z]{2}[0-9]{4}"), "AB12345", "pattern")
    bad(f("text"), "a\nb", "bad_characters")
    bad(f("text"), "a\x00b", "bad_characters")
    bad(f("text"), "\ud800", "bad_characters")
    bad(f("text"), 5, "bad_value")
    bad(f("text"), ["a", "b"], "bad_value")


def test_textarea():
    ok(f("textarea"), "一行目\r\n二行目\r\n", "一行目\n二行目")
    ok(f("textarea"), "a\tb", "a\tb")
    bad(f("textarea"), "x" * 2001, "too_long", {"max": 2000})
    bad(f("textarea", min_length=5), "abcd", "too_short", {"min": 5})
    bad(f("textarea"), "a\x1bb", "bad_characters")


# --- kana -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ヤマダ タロウ", "ヤマダ\u3000タロウ"),
        ("やまだ　たろう", "ヤマダ\u3000タロウ"),
        ("ﾔﾏﾀﾞ  ﾀﾛｳ", "ヤマダ\u3000タロウ"),
        ("ゔぃーなす", "ヴィーナス"),
        ("ジョン・スミス", "ジョン・スミス"),
        ("ｼﾞｮﾝ･ｽﾐｽ", "ジョン・スミス"),
        ("サトウ", "サトウ"),
        ("か゛とう", "ガトウ"),  # a stand-alone voicing mark
        ("ｶﾞﾄｳ", "ガトウ"),
    ],
)
def test_kana_good(value, expected):
    ok(f("kana"), value, expected)


@pytest.mark.parametrize("value", ["山田", "yamada", "ヤマダ1", "ヤマダ-タロウ", "ヤマダ。"])
def test_kana_bad(value):
    bad(f("kana"), value, "not_kana")


def test_kana_lengths():
    bad(f("kana", max_length=3), "やまだた", "too_long", {"max": 3})
    bad(f("kana", min_length=2), "ア", "too_short", {"min": 2})
    bad(f("kana"), "ア" * 101, "too_long", {"max": 100})


# --- number -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), ("１２３", 123), ("1,000", 1000), ("１，０００，０００", 1_000_000), ("-5", -5), ("−5", -5),
     (" 7 ", 7), (7, 7), (7.0, 7), ("+3", 3), ("0", 0), (0, 0)],
)  # fmt: skip
def test_number_good(value, expected):
    ok(f("number"), value, expected)


@pytest.mark.parametrize(
    "value", ["1.5", "1.0", "abc", "1,00", ",100", "1 000", "1e3", True, 1.5, "9" * 41, {"n": 1}]
)
def test_number_bad(value):
    bad(f("number"), value, "not_integer")


def test_number_bounds():
    field = f("number", min=1, max=10)
    ok(field, "1", 1)
    ok(field, "10", 10)
    bad(field, "0", "too_small", {"min": 1})
    bad(field, "11", "too_large", {"max": 10})


# --- date -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    ["2020-04-01", "2020-4-1", "2020/4/1", "2020/04/01", "２０２０／４／１", "2020.4.1", "2020年4月1日", "20200401",
     "令和2年4月1日", "R2.4.1", "r2/4/1", "Ｒ２．４．１", date(2020, 4, 1)],
)  # fmt: skip
def test_date_good(value):
    ok(f("date"), value, "2020-04-01")


def test_date_gannen_and_heisei():
    ok(f("date"), "令和元年5月1日", "2019-05-01")
    ok(f("date"), "平成31年4月30日", "2019-04-30")


@pytest.mark.parametrize(
    "value",
    ["2020-02-30", "2020/13/1", "令和元年4月30日", "平成32年1月1日", "tomorrow", "2020", "R2.4", 20200401],
)
def test_date_bad(value):
    bad(f("date"), value, "bad_date")


def test_date_bounds():
    field = f("date", min="2020-01-01", max="today")
    ok(field, "2026-11-29", "2026-11-29")
    bad(field, "2019-12-31", "too_early", {"min": "2020-01-01"})
    bad(field, "2026-11-30", "too_late", {"max": "2026-11-29"})


def test_date_today_defaults_to_japan_today():
    # only checks that it runs without a `today`: a date far in the past is before today anywhere
    assert one(f("date", max="today"), "2000-01-01") == ("2000-01-01", [])


def test_datetime_is_not_a_date():
    from datetime import datetime

    bad(f("date"), datetime(2020, 4, 1, tzinfo=UTC), "bad_date")


# --- choice -----------------------------------------------------------------------------------------------
def choice(**kw):
    return f("choice", options=[{"value": v, "label": v} for v in ("red", "green", "blue")], **kw)


def test_radio_and_select():
    ok(choice(), "green", "green")
    ok(choice(widget="select"), " blue ", "blue")
    ok(choice(), ["red"], "red")
    bad(choice(), "purple", "bad_choice")
    bad(choice(), 1, "bad_choice")


def test_checkboxes():
    boxes = choice(widget="checkboxes", min_choices=2, max_choices=2)
    ok(boxes, ["blue", "red"], ["red", "blue"])  # option order, not click order
    ok(boxes, ["blue", "red", "red"], ["red", "blue"])
    ok(choice(widget="checkboxes"), "green", ["green"])
    ok(choice(widget="checkboxes"), ["", "green"], ["green"])
    assert one(choice(widget="checkboxes"), ["", ""]) == (None, [])
    bad(boxes, ["red"], "too_few_choices", {"min": 2})
    bad(boxes, ["red", "green", "blue"], "too_many_choices", {"max": 2})
    bad(boxes, ["red", "purple"], "bad_choice")
    bad(boxes, ["red", 3], "bad_choice")
    bad(boxes, {"red": True}, "bad_choice")
    bad(choice(widget="checkboxes", required=True), [], "required")


# --- email / phone / postcode ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("taro@Example.JP", "taro@example.jp"),
        ("Taro.Yamada+x@city.example.lg.jp", "Taro.Yamada+x@city.example.lg.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
        ("taro..yamada.@docomo.ne.jp", "taro..yamada.@docomo.ne.jp"),
        ("a@xn--eckwd4c7c.xn--zckzah", "a@xn--eckwd4c7c.xn--zckzah"),
    ],
)
def test_email_good(value, expected):
    ok(f("email"), value, expected)


@pytest.mark.parametrize(
    "value", ["taro", "taro@", "@example.jp", "taro@example", "taro@@example.jp", "ta ro@example.jp",
              "taro@exa_mple.jp", "たろう@example.jp", "taro@-example.jp", "taro@example.j", 5],
)  # fmt: skip
def test_email_bad(value):
    bad(f("email"), value, "bad_email")


def test_email_length():
    ok(
        f("email"),
        "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "b" * 3 + ".jp",
        "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "b" * 3 + ".jp",
    )
    bad(f("email"), "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "b" * 4 + ".jp", "too_long", {"max": 254})
    bad(f("email", max_length=20), "abcdefghij@example.jp", "too_long", {"max": 20})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("03-1234-5678", "03-1234-5678"), ("0312345678", "0312345678"), ("090-1234-5678", "090-1234-5678"),
     ("０９０ー１２３４ー５６７８", "090-1234-5678"), ("03(1234)5678", "03-1234-5678"),
     ("(03) 1234-5678", "03-1234-5678"), ("03 1234 5678", "0312345678"), ("03−1234−5678", "03-1234-5678")],
)  # fmt: skip
def test_phone_good(value, expected):
    ok(f("phone"), value, expected)


@pytest.mark.parametrize(
    "value",
    ["03-1234-567", "090-1234-56789", "+81-90-1234-5678", "3-1234-5678", "03-1234-567a", "電話", 312345678],
)
def test_phone_bad(value):
    bad(f("phone"), value, "bad_phone")


@pytest.mark.parametrize(
    "value", ["1000001", "100-0001", "１００－０００１", "〒100-0001", "〒 １００ー０００１", " 100 0001 "]
)
def test_postcode_good(value):
    ok(f("postcode"), value, "100-0001")


@pytest.mark.parametrize("value", ["100001", "10000011", "10-00001", "abc-defg", "100_0001", 1000001])
def test_postcode_bad(value):
    bad(f("postcode"), value, "bad_postcode")


# --- mynumber ---------------------------------------------------------------------------------------------
VALID_MY_NUMBER = "123456789018"  # check digit 8 for base 12345678901


@pytest.mark.parametrize(
    "value",
    [
        VALID_MY_NUMBER,
        "１２３４５６７８９０１８",
        "1234 5678 9018",
        "1234-5678-9018",
        "１２３４　５６７８　９０１８",
    ],
)
def test_mynumber_good(value):
    ok(f("mynumber"), value, VALID_MY_NUMBER)


def test_mynumber_vault_token_passes_through():
    token = "mn_" + "A1b2-C3d4_" * 3
    ok(f("mynumber"), token, token)


@pytest.mark.parametrize("value", ["12345678901", "1234567890189", "12345678901a", "mn_short", 123456789018])
def test_mynumber_bad_length(value):
    bad(f("mynumber"), value, "bad_mynumber_length")


@pytest.mark.parametrize("value", ["123456789012", "１２３４５６７８９０１９"])
def test_mynumber_bad_check_digit(value):
    bad(f("mynumber"), value, "bad_mynumber_check_digit")


# --- file -------------------------------------------------------------------------------------------------
PDF = {"id": "f1", "name": "住民票.pdf", "size": 1000, "content_type": "application/pdf"}
PNG = {"id": 2, "name": "photo.png", "size": 2000, "content_type": "image/png", "sha256": "ab" * 32}


def test_file_good():
    ok(f("file"), PDF, PDF)
    ok(f("file"), [PDF], PDF)
    ok(f("file", max_files=2), [PDF, PNG], [PDF, PNG])
    ok(f("file", max_files=2), PNG, [PNG])
    ok(
        f("file", accept=["pdf"]),
        PDF | {"content_type": "Application/PDF; version=1.7"},
        PDF | {"content_type": "Application/PDF; version=1.7"},
    )
    ok(f("file", max_bytes=1000), PDF, PDF)


@pytest.mark.parametrize(
    "ref",
    ["f1", {"id": "f1"}, PDF | {"size": -1}, PDF | {"size": "1000"}, PDF | {"size": True}, PDF | {"name": ""},
     PDF | {"id": ""}, PDF | {"id": None}, PDF | {"content_type": None}, PDF | {"extra": {"nested": 1}},
     PDF | {"extra": 1.5}],
)  # fmt: skip
def test_file_bad_reference(ref):
    bad(f("file"), ref, "bad_file_reference")


def test_file_limits():
    bad(f("file"), [PDF, PNG], "too_many_files", {"max": 1})
    bad(f("file", max_bytes=999), PDF, "file_too_large", {"max": 999})
    bad(f("file", accept=["jpeg", "png"]), PDF, "file_type_not_allowed", {"accept": ["jpeg", "png"]})
    bad(
        f("file", accept=["pdf"]), PDF | {"content_type": "application/x-msdownload"}, "file_type_not_allowed"
    )
    bad(f("file", required=True), [], "required")


# --- declaration ------------------------------------------------------------------------------------------
DECL = {"key": "a", "type": "declaration", "text": "相違ありません"}


@pytest.mark.parametrize("value", [True, "on", "true", "1", "yes", 1, "ＯＮ"])
def test_declaration_ticked(value):
    ok(DECL, value, True)


@pytest.mark.parametrize("value", [None, "", False, "off", "false", "0", 0, "maybe", 2])
def test_declaration_not_ticked(value):
    bad(DECL, value, "must_declare")


# --- visibility --------------------------------------------------------------------------------------------
def form():
    return parse_definition(
        {
            "schema": 1,
            "title": "t",
            "pages": [
                {
                    "key": "p1",
                    "title": "1",
                    "fields": [
                        f(
                            "choice",
                            key="kind",
                            options=[{"value": "dog", "label": "犬"}, {"value": "cat", "label": "猫"}],
                        ),
                        f(
                            "number",
                            key="age",
                            required=True,
                            show_if={"field": "kind", "op": "eq", "value": "dog"},
                        ),
                        f(
                            "text",
                            key="breed",
                            required=True,
                            show_if={"field": "age", "op": "gte", "value": 1},
                        ),
                    ],
                },
                {
                    "key": "p2",
                    "title": "2",
                    "show_if": {"field": "kind", "op": "answered"},
                    "fields": [
                        f("text", key="vet", required=True),
                        f(
                            "date",
                            key="shot",
                            show_if={"not": {"field": "breed", "op": "not_answered"}},
                            min="today",
                        ),
                    ],
                },
                {"key": "p3", "title": "3", "fields": [f("text", key="notes")]},
            ],
        }
    )


def keys(fields):
    return [x.key for x in fields]


def test_hidden_fields_are_not_required_and_their_answers_dropped():
    d = form()
    cleaned, problems = clean_answers(d, {"kind": "cat", "age": "3", "breed": "柴", "vet": "東"}, today=TODAY)
    assert cleaned == {"kind": "cat", "vet": "東"}
    assert problems == []
    cleaned, problems = clean_answers(d, {"kind": "dog"}, today=TODAY)
    assert cleaned == {"kind": "dog"}
    assert problems == [Problem("required", "age", {}), Problem("required", "vet", {})]


def test_conditions_see_cleaned_values_and_chain():
    d = form()
    raw = {"kind": "dog", "age": "１", "breed": "柴", "vet": "東", "shot": "2027-01-01"}
    assert clean_answers(d, raw, today=TODAY) == ({**raw, "age": 1}, [])
    # age 0: breed hidden, so shot (which depends on breed) is hidden as well
    assert clean_answers(d, {**raw, "age": "0"}, today=TODAY) == ({"kind": "dog", "age": 0, "vet": "東"}, [])
    # an invalid answer counts as no answer for the conditions that read it
    cleaned, problems = clean_answers(d, {**raw, "age": "one"}, today=TODAY)
    assert cleaned == {"kind": "dog", "vet": "東"}
    assert problems == [Problem("not_integer", "age", {})]


def test_visible_fields():
    d = form()
    assert keys(visible_fields(d, {})) == ["kind", "notes"]
    assert keys(visible_fields(d, {"kind": "cat"})) == ["kind", "vet", "notes"]
    assert keys(visible_fields(d, {"kind": "dog", "age": "2"})) == ["kind", "age", "breed", "vet", "notes"]
    assert keys(visible_fields(d, {"kind": "dog", "age": 2, "breed": "柴"})) == [
        "kind",
        "age",
        "breed",
        "vet",
        "shot",
        "notes",
    ]
    assert keys(visible_fields(d, {"kind": "dog", "age": 2, "breed": "柴"}, page="p2")) == ["vet", "shot"]
    assert keys(visible_fields(d, {}, page="p2")) == []
    assert keys(visible_fields(d, {}, page="p3")) == ["notes"]
    with pytest.raises(KeyError):
        visible_fields(d, {}, page="nope")


def test_page_mode_validates_only_that_page_using_earlier_answers():
    d = form()
    raw = {"kind": "dog", "age": "3", "breed": "柴", "notes": "x"}
    assert clean_answers(d, raw, page="p1", today=TODAY) == ({"kind": "dog", "age": 3, "breed": "柴"}, [])
    assert clean_answers(d, raw, page="p2", today=TODAY) == ({}, [Problem("required", "vet", {})])
    assert clean_answers(d, {**raw, "vet": "東", "shot": "2020-01-01"}, page="p2", today=TODAY) == (
        {"vet": "東"},
        [Problem("too_early", "shot", {"min": "2026-11-29"})],
    )
    # page 2 is hidden without a kind: nothing to validate there
    assert clean_answers(d, {}, page="p2", today=TODAY) == ({}, [])
    assert clean_answers(d, {"notes": "x"}, page="p3", today=TODAY) == ({"notes": "x"}, [])


def test_cleaning_is_idempotent():
    d = form()
    raw = {"kind": "dog", "age": "１,０００", "breed": " 柴 ", "vet": "東", "shot": "R9.1.1"}
    cleaned, problems = clean_answers(d, raw, today=TODAY)
    assert problems == []
    assert clean_answers(d, cleaned, today=TODAY) == (cleaned, [])


class QueryDictLike(dict):
    """What Django's QueryDict offers: get() gives the last value, getlist() all of them."""

    def __init__(self, pairs):
        super().__init__()
        self.lists = {}
        for k, v in pairs:
            self.lists.setdefault(k, []).append(v)
            self[k] = v

    def getlist(self, key):
        return list(self.lists.get(key, []))


def test_checkboxes_from_a_querydict():
    d = parse_definition(
        {
            "schema": 1,
            "title": "t",
            "pages": [
                {"key": "p", "title": "p", "fields": [choice(widget="checkboxes"), f("text", key="b")]}
            ],
        }
    )
    raw = QueryDictLike([("a", "red"), ("a", "blue"), ("b", "x")])
    assert clean_answers(d, raw) == ({"a": ["red", "blue"], "b": "x"}, [])


# --- groups -----------------------------------------------------------------------------------------------
def group_form(**kw):
    return parse_definition(
        {
            "schema": 1,
            "title": "t",
            "pages": [
                {
                    "key": "p",
                    "title": "p",
                    "fields": [
                        f("number", key="count"),
                        {
                            "key": "kids",
                            "type": "group",
                            "label": "子",
                            "fields": [
                                f("text", key="name", required=True),
                                f("number", key="age", min=0),
                                f(
                                    "choice",
                                    key="school",
                                    widget="checkboxes",
                                    options=[{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                                ),
                                f(
                                    "text",
                                    key="nursery",
                                    required=True,
                                    show_if={
                                        "all": [
                                            {"field": "age", "op": "lt", "value": 6},
                                            {"field": "count", "op": "gt", "value": 0},
                                        ]
                                    },
                                ),
                            ],
                            **kw,
                        },
                    ],
                }
            ],
        }
    )


def test_group_as_a_list_of_dicts():
    d = group_form()
    raw = {
        "count": "2",
        "kids": [
            {"name": "太郎", "age": "3", "nursery": "ひまわり"},
            {"name": "花子", "age": "８", "nursery": "x"},
        ],
    }
    assert clean_answers(d, raw) == (
        {"count": 2, "kids": [{"name": "太郎", "age": 3, "nursery": "ひまわり"}, {"name": "花子", "age": 8}]},
        [],
    )


def test_group_flattened_keys_keep_posted_indexes_in_paths():
    d = group_form()
    raw = QueryDictLike(
        [("count", "1"), ("kids.0.name", "太郎"), ("kids.0.age", "2"), ("kids.0.school", "a"), ("kids.0.school", "b"),
         ("kids.2.name", ""), ("kids.2.age", "x"), ("kids.5.name", ""), ("kids.x.name", "?"), ("kids.0.unknown", "?")]
    )  # fmt: skip
    cleaned, problems = clean_answers(d, raw)
    # an item with problems stays in the (partial) cleaned list, so that item counts are right
    assert cleaned == {"count": 1, "kids": [{"name": "太郎", "age": 2, "school": ["a", "b"]}, {}]}
    assert problems == [
        Problem("required", "kids.0.nursery", {}),
        Problem("required", "kids.2.name", {}),
        Problem("not_integer", "kids.2.age", {}),
    ]


def test_group_sub_conditions_use_the_item_and_the_top_level():
    d = group_form()
    raw = {"count": "0", "kids": [{"name": "太郎", "age": "3", "nursery": "ひまわり"}]}
    assert clean_answers(d, raw) == ({"count": 0, "kids": [{"name": "太郎", "age": 3}]}, [])


def test_group_item_counts_and_blank_items():
    d = group_form(min_items=2, max_items=3, required=True)
    item = {"name": "x"}
    assert clean_answers(d, {"kids": [item, {"name": "", "age": ""}, item]})[1] == []
    assert clean_answers(d, {"kids": [item]})[1] == [Problem("too_few_items", "kids", {"min": 2})]
    assert clean_answers(d, {"kids": [item] * 4})[1] == [Problem("too_many_items", "kids", {"max": 3})]
    assert clean_answers(d, {"kids": [{"name": ""}]}) == ({}, [Problem("required", "kids", {})])
    assert clean_answers(d, {}) == ({}, [Problem("required", "kids", {})])
    assert clean_answers(group_form(), {}) == ({}, [])  # not required: no items is fine


def test_group_bad_shapes():
    d = group_form()
    assert clean_answers(d, {"kids": "太郎"}) == ({}, [Problem("bad_value", "kids", {})])
    assert clean_answers(d, {"kids": ["太郎", {"name": "x"}]}) == (
        {"kids": [{"name": "x"}]},
        [Problem("bad_value", "kids.0", {})],
    )


def test_hidden_group_is_dropped():
    d = parse_definition(
        {
            "schema": 1,
            "title": "t",
            "pages": [
                {
                    "key": "p",
                    "title": "p",
                    "fields": [
                        f("choice", key="has", options=[{"value": "y", "label": "Y"}]),
                        {
                            "key": "g",
                            "type": "group",
                            "label": "g",
                            "required": True,
                            "show_if": {"field": "has", "op": "eq", "value": "y"},
                            "fields": [f("text", key="x", required=True)],
                        },
                        f("text", key="after", show_if={"field": "g", "op": "answered"}),
                    ],
                }
            ],
        }
    )
    assert clean_answers(d, {"g.0.x": "v", "after": "z"}) == ({}, [])
    assert clean_answers(d, {"has": "y", "g.0.x": "v", "after": "z"}) == (
        {"has": "y", "g": [{"x": "v"}], "after": "z"},
        [],
    )
    assert keys(visible_fields(d, {"has": "y", "g": [{"x": "v"}]})) == ["has", "g", "after"]
