"""Tenant isolation: a staff member of one municipality sees nothing of another, on every page and API."""

import pytest
from django.urls import reverse

from madoguchi.core import audit
from madoguchi.identity import services
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, UserFactory, sign_in_staff

pytestmark = pytest.mark.django_db
Role = StaffRole.Role


def _staff_pages() -> list[str]:
    """Every named back-office page of the whole URLconf that takes a municipality code (any app's): a page
    added later is covered automatically. Names without arguments other than the code only."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found = []

    def walk(patterns, namespace, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else (p.namespace or namespace)
                walk(p.url_patterns, ns, route)
            elif isinstance(p, URLPattern) and p.name and "municipality_code" in route and "staff" in route:
                if route.count("<") == 1:  # only the municipality code to fill in
                    found.append(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns, "", "")
    return sorted(set(found))


def _staff_apis() -> list[str]:
    """Every staff API path (GET) that names a municipality, read from the OpenAPI schema."""
    from madoguchi.conf.api import api

    paths = api.get_openapi_schema()["paths"]
    return sorted(
        p for p, ops in paths.items() if p.startswith("/api/v1/staff/") and "{code}" in p and "get" in ops
    )


STAFF_PAGES = _staff_pages()
STAFF_APIS = _staff_apis()


def test_the_isolation_tests_cover_something():
    assert {"web:staff_dashboard", "web:staff_audit"} <= set(STAFF_PAGES)
    assert "/api/v1/staff/municipalities/{code}/audit-records" in STAFF_APIS


@pytest.fixture
def tenants(two_municipalities):
    mine, other = two_municipalities
    admin = StaffRoleFactory(municipality=mine, role=Role.MUNICIPAL_ADMIN).user
    other_admin = StaffRoleFactory(municipality=other, role=Role.MUNICIPAL_ADMIN).user
    # Something secret-ish in the other municipality's audit stream that must never show up for `admin`.
    audit.record(
        actor=other_admin, action="other.secret_action", municipality=other, details={"x": "他団体の秘密"}
    )
    audit.record(actor=admin, action="mine.visible_action", municipality=mine)
    return mine, other, admin


def _visit(client, url):
    """GET the page; a POST-only action (405 to GET) is POSTed instead."""
    response = client.get(url)
    return client.post(url) if response.status_code == 405 else response


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_pages_of_own_municipality(client, tenants, name):
    mine, _other, admin = tenants
    sign_in_staff(client, admin)
    response = _visit(client, reverse(name, args=[mine.code]))
    # 403 is allowed only for a reason other than the tenant check (e.g. desk pages with no resident yet).
    assert response.status_code in (200, 302, 403)
    body = response.content.decode()
    assert "この操作を行う職員の権限がありません" not in body and "that allows this" not in body
    assert not response.get("Location", "").startswith(reverse("web:staff_login"))
    if name in ("web:staff_dashboard", "web:staff_audit"):
        assert "mine.visible_action" in response.content.decode()


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_pages_of_another_municipality_are_forbidden(client, tenants, name):
    _mine, other, admin = tenants
    sign_in_staff(client, admin)
    response = _visit(client, reverse(name, args=[other.code]))
    assert response.status_code == 403
    assert "この操作を行う職員の権限がありません" in response.content.decode()
    body = response.content.decode()
    assert "other.secret_action" not in body and "他団体の秘密" not in body


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_pages_need_sign_in(client, tenants, name):
    mine, _other, _admin = tenants
    response = _visit(client, reverse(name, args=[mine.code]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:staff_login"))


@pytest.mark.parametrize("url", STAFF_APIS)
def test_staff_api_is_scoped_to_own_municipality(client, tenants, url):
    mine, other, admin = tenants
    sign_in_staff(client, admin)
    own = client.get(url.format(code=mine.code))
    assert own.status_code == 200
    assert [item["action"] for item in own.json()["items"]] == ["mine.visible_action"]
    foreign = client.get(url.format(code=other.code))
    assert foreign.status_code == 403
    assert foreign.json()["code"] == "forbidden" and "other.secret_action" not in foreign.content.decode()


@pytest.mark.parametrize("url", STAFF_APIS)
def test_staff_api_needs_sign_in(client, tenants, url):
    mine, _other, _admin = tenants
    response = client.get(url.format(code=mine.code))
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


def test_desk_clerk_may_open_the_dashboard_but_not_the_audit_log(client, two_municipalities):
    mine, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=mine, clerk=True).user
    sign_in_staff(client, clerk)
    assert client.get(reverse("web:staff_dashboard", args=[mine.code])).status_code == 200
    assert client.get(reverse("web:staff_audit", args=[mine.code])).status_code == 403
    assert client.get(f"/api/v1/staff/municipalities/{mine.code}/audit-records").status_code == 403


def test_staff_home_lists_only_own_municipalities(client, tenants):
    mine, other, admin = tenants
    sign_in_staff(client, admin)
    body = client.get(reverse("web:staff_home")).content.decode()
    assert mine.name in body and other.name not in body
    me = client.get("/api/v1/staff/me").json()
    assert me["roles"] == [{"role": "municipal_admin", "municipality_code": mine.code}]


def test_staff_home_sends_anonymous_users_to_sign_in(client, db):
    response = client.get(reverse("web:staff_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:staff_login"))


def test_sign_in_and_failed_sign_in_are_audited(client, db):
    user = UserFactory(username="kumiko")
    client.post(reverse("web:staff_login"), {"username": "kumiko", "password": "wrong password"})
    client.post(reverse("web:staff_login"), {"username": "kumiko", "password": "correct horse battery"})
    actions = list(audit.AuditRecord.objects.values_list("action", "actor_id"))
    assert ("identity.sign_in_failed", "") in actions
    assert ("identity.sign_in", str(user.pk)) in actions


def test_audit_csv_export_is_scoped_and_excel_friendly(client, tenants):
    mine, _other, admin = tenants
    sign_in_staff(client, admin)
    response = client.get(reverse("web:staff_audit", args=[mine.code]), {"format": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeffseq,created_at")
    assert "mine.visible_action" in body and "other.secret_action" not in body


def test_admin_is_for_platform_operators_only(client, tenants):
    _mine, _other, admin = tenants
    sign_in_staff(client, admin)
    assert client.get("/admin/").status_code == 302  # sent to sign-in: not an operator
    operator = UserFactory()
    services.staff_role_grant(user=operator, role=Role.PLATFORM_OPERATOR, municipality=None)
    sign_in_staff(client, operator)
    assert client.get("/admin/").status_code == 200


def test_role_grant_and_revoke_are_audited_in_the_tenant_stream(two_municipalities):
    mine, _other = two_municipalities
    user = UserFactory()
    services.staff_role_grant(user=user, role=Role.REVIEWER, municipality=mine)
    services.staff_role_grant(user=user, role=Role.REVIEWER, municipality=mine)  # idempotent, no 2nd record
    services.staff_role_revoke(user=user, role=Role.REVIEWER, municipality=mine)
    actions = list(audit.AuditRecord.objects.filter(stream=mine.code).values_list("action", flat=True))
    assert actions == ["identity.staff_role_grant", "identity.staff_role_revoke"]


def test_database_refuses_a_municipal_role_without_a_municipality(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        StaffRole.objects.create(user=UserFactory(), role=Role.REVIEWER, municipality=None)
