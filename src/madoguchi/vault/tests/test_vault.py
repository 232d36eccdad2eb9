import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ValidationError
from django.db import connections

from madoguchi.core.codes import my_number_check_digit
from madoguchi.core.models import AuditRecord
from madoguchi.core.zones import Zone
from madoguchi.identity.tests.factories import UserFactory, verified
from madoguchi.vault import services
from madoguchi.vault.models import MyNumberEntry
from madoguchi.vault.services import Purpose, VaultZoneError

pytestmark = pytest.mark.django_db(databases=["default", "vault"])

MY_NUMBER = "123456789018"  # the worked example of DOMAIN.md (synthetic)


def _store(value=MY_NUMBER, actor=None):
    return services.my_number_store(value=value, actor=actor, purpose=Purpose.SOCIAL_SECURITY)


def test_store_returns_an_opaque_token_and_reveal_returns_the_number():
    clerk = verified(UserFactory())
    token = _store(actor=clerk)
    assert token.startswith("mn_") and MY_NUMBER not in token
    assert (
        services.my_number_reveal(
            token=token, actor=clerk, purpose=Purpose.SOCIAL_SECURITY, reason="児童手当 認定請求 審査"
        )
        == MY_NUMBER
    )


def test_storing_the_same_number_again_gives_the_same_token():
    assert _store() == _store("1234-5678-9018") == _store("１２３４５６７８９０１８")
    assert MyNumberEntry.objects.count() == 1


@pytest.mark.parametrize("bad", ["123456789019", "12345678901", "abcdefghijkl", ""])
def test_invalid_numbers_are_refused_and_nothing_is_written(bad):
    with pytest.raises(ValidationError) as excinfo:
        _store(bad)
    assert excinfo.value.code in {"my_number_format", "my_number_check_digit"}
    assert bad not in " ".join(excinfo.value.messages) or bad == ""
    assert MyNumberEntry.objects.count() == 0
    assert AuditRecord.objects.count() == 0


def test_ciphertext_does_not_contain_the_number_and_is_bound_to_its_row():
    token = _store()
    entry = MyNumberEntry.objects.get(token=token)
    assert MY_NUMBER.encode() not in bytes(entry.ciphertext)
    other_value = "621498320257"
    other = MyNumberEntry.objects.get(token=_store(other_value))
    # Copy the first ciphertext into the second row: the token is the associated data, so it must not open.
    MyNumberEntry.objects.filter(pk=other.pk).update(nonce=entry.nonce, ciphertext=entry.ciphertext)
    with pytest.raises(InvalidTag):
        services.my_number_reveal(token=other.token, actor=None, purpose=Purpose.TAX, reason="test")


def test_every_read_is_audited_with_purpose_and_never_the_value():
    clerk = verified(UserFactory())
    token = _store(actor=clerk)
    services.my_number_reveal(token=token, actor=clerk, purpose=Purpose.TAX, reason="住民税 賦課")
    with pytest.raises(LookupError):
        services.my_number_reveal(token="mn_unknown", actor=clerk, purpose=Purpose.TAX, reason="照会")
    reads = list(AuditRecord.objects.filter(action="vault.my_number_reveal").order_by("seq"))
    assert [r.details["found"] for r in reads] == [True, False]
    assert reads[0].details["purpose"] == "tax" and reads[0].actor_id == str(clerk.pk)
    assert reads[0].target_id == token
    for record in AuditRecord.objects.all():
        assert MY_NUMBER not in str(record.details) + record.target_id + record.actor_label


def test_reveal_requires_a_reason_and_a_known_purpose():
    token = _store()
    with pytest.raises(ValidationError):
        services.my_number_reveal(token=token, actor=None, purpose=Purpose.TAX, reason="  ")
    with pytest.raises(ValueError):
        services.my_number_reveal(token=token, actor=None, purpose="marketing", reason="広告")


def test_internet_zone_may_not_use_the_vault(settings):
    settings.MADOGUCHI_ZONE = Zone.INTERNET
    with pytest.raises(VaultZoneError):
        _store()
    assert MyNumberEntry.objects.count() == 0


def _all_text_in(alias: str) -> str:
    """Every value of every table of a database, as text: what an attacker with a dump would see."""
    connection = connections[alias]
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                dump.append(
                    " ".join(bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v) for v in row)
                )
    return "\n".join(dump)


def test_no_plain_my_number_anywhere_in_either_database(client):
    numbers = [MY_NUMBER, "621498320257"] + [
        b + my_number_check_digit(b) for b in ("00000000001", "98765432109")
    ]
    clerk = verified(UserFactory())
    for n in numbers:
        token = _store(n, actor=clerk)
        services.my_number_reveal(token=token, actor=clerk, purpose=Purpose.SOCIAL_SECURITY, reason="確認")
    for alias in ("default", "vault"):
        text = _all_text_in(alias)
        for n in numbers:
            assert n not in text
            assert n.encode().hex() not in text


def test_a_person_without_two_step_verification_may_not_use_the_vault():
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        _store(actor=UserFactory())
    token = _store()
    with pytest.raises(PermissionDenied):
        services.my_number_reveal(token=token, actor=UserFactory(), purpose=Purpose.TAX, reason="確認")
    assert not AuditRecord.objects.filter(action="vault.my_number_reveal").exists()
