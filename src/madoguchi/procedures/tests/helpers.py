"""Driving the applicant's way with the test client."""

from django.urls import reverse

from madoguchi.procedures.formengine import my_number_check_digit

MY_NUMBER = "12345678901" + my_number_check_digit("12345678901")


def urls(procedure) -> dict[str, str]:
    kwargs = {"municipality_code": procedure.municipality.code, "code": procedure.code}
    return {
        name: reverse(f"procedures:{name}", kwargs=kwargs) for name in ("start", "check", "send", "detail")
    }


def walk(client, procedure, answers: dict, *, max_steps: int = 40) -> str:
    """Answer every step with `answers` (all keys each time; a step takes its own). Returns the check URL."""
    u = urls(procedure)
    response = client.get(u["start"])
    assert response.status_code == 302, response.content
    url = response.url
    for _ in range(max_steps):
        if url == u["check"]:
            return url
        response = client.post(url, {**answers, "action": "next"})
        assert response.status_code == 302, _errors(response)
        url = response.url
    raise AssertionError("the steps did not end at the check page")


def _errors(response) -> str:
    form = response.context.get("form") if response.context else None
    return str(form.errors if form is not None else response.content[:2000])


EVENT_ANSWERS = {
    "participant_name": "窓口 花子",
    "participant_kana": "まどぐち はなこ",
    "participant_email": "hanako@example.jp",
    "participant_phone": "０３-１２３４-５６７８",
    "attendance_date": "2026-06-20",
    "party_size": "２",
    "sign_language": "needed",
    "sign_language_details": "午前の部のみ",
}

JIDO_ANSWERS = {
    "applicant_name": "山田 太郎",
    "applicant_kana": "ヤマダ タロウ",
    "applicant_dob": "昭和60年4月1日",
    "applicant_mynumber": MY_NUMBER,
    "applicant_postcode": "100-0013",
    "applicant_address": "東京都千代田区霞が関二丁目1番2号",
    "applicant_phone": "03-1234-5678",
    "has_spouse": "no",
    "is_public_servant": "no",
    "children.0.child_name": "山田 一郎",
    "children.0.child_kana": "ヤマダ イチロウ",
    "children.0.child_dob": "2024-05-05",
    "children.0.child_relationship": "child",
    "children.0.child_living": "together",
    "bank_name": "窓口銀行",
    "bank_branch": "本店",
    "account_type": "ordinary",
    "account_number": "1234567",
    "account_holder_kana": "ヤマダ タロウ",
    "declaration": "on",
}

SODAI_ANSWERS = {
    "applicant_name": "窓口 次郎",
    "applicant_postcode": "1000001",
    "applicant_address": "東京都千代田区千代田1-1",
    "applicant_phone": "0312345678",
    "items.0.item_type": "futon",
    "items.0.item_quantity": "2",
    "preferred_date": "2099-04-01",
}
