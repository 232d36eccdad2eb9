"""Dashboards: the national one for platform operators, the municipal one for a municipality's own staff —
figures, charts with their tables, CSV downloads, access and query counts."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.tests.factories import MunicipalityFactory, PrefectureFactory
from madoguchi.identity.models import DeskSession
from madoguchi.identity.tests.factories import StaffRoleFactory, UserFactory, sign_in_staff
from madoguchi.points import dashboards
from madoguchi.points.models import (
    Application,
    Campaign,
    PaymentProvider,
    PointAccount,
    ProviderTransaction,
    Reservation,
)
from madoguchi.points.tests.conftest import make_resident

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")


def make_application(campaign, provider, municipality=None, mode="charge", desk=None, granted=0):
    resident = make_resident()
    application = Application.objects.create(
        campaign=campaign, resident=resident, provider=provider, mode=mode, service_account=f"acct-{resident.pk}",
        municipality=municipality, desk_session=desk, clerk=desk.clerk if desk else None,
    )  # fmt: skip
    PointAccount.objects.create(
        application=application, campaign=campaign, provider=provider, service_account=application.service_account,
        mode=mode, cap=campaign.cap, granted=granted,
    )  # fmt: skip
    return application


def desk_session(municipality, clerk) -> DeskSession:
    return DeskSession.objects.create(
        municipality=municipality, clerk=clerk, resident=make_resident(), last_activity_at=timezone.now()
    )


@pytest.fixture
def world(campaign, provider):
    """Asahi (Tokyo) with four applications, two at its desk; Minami (Hokkaido) with one; one of unknown
    municipality. Asahi's residents alone use アサヒペイ."""
    asahi = MunicipalityFactory(name="あさひ市")
    minami = MunicipalityFactory(name="みなみ町", prefecture=PrefectureFactory(number=1))
    asahi_pay = PaymentProvider.objects.create(
        code="asahi-pay", name="アサヒペイ", type="qr", modes=["charge", "purchase"], callback_url="http://x/"
    )
    campaign.providers.add(asahi_pay)
    clerk = UserFactory(display_name="窓口太郎")
    StaffRoleFactory(user=clerk, municipality=asahi, clerk=True)
    session = desk_session(asahi, clerk)
    make_application(campaign, asahi_pay, asahi, "charge", desk=session, granted=1_000)
    make_application(campaign, asahi_pay, asahi, "purchase", desk=session, granted=2_000)
    make_application(campaign, asahi_pay, asahi, "charge", granted=500)
    make_application(campaign, provider, asahi, "charge")
    Reservation.objects.create(campaign=campaign, resident=make_resident(), desk_session=session)
    make_application(campaign, provider, minami, "purchase", granted=700)
    make_application(campaign, provider, None, "charge")
    Campaign.objects.filter(pk=campaign.pk).update(reservations=9, reserved_budget=6 * 5_000)
    return {"asahi": asahi, "minami": minami, "asahi_pay": asahi_pay, "clerk": clerk}


@pytest.fixture
def operator_client(client):
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    return client


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- National --------------------------------------------------------------------------------------------------
def test_national_figures(world, campaign, provider):
    tables = {t.slug: t for t in dashboards.national_dashboard()}
    assert tables["services"].rows == [["アサヒペイ", "asahi-pay", 3], [provider.name, provider.code, 3]]
    unknown = dashboards.unknown_label()
    assert tables["prefectures"].rows == [["北海道", 1], ["東京都", 4], [unknown, 1]]
    municipalities = tables["municipalities"].rows
    assert municipalities[0] == [world["asahi"].code, "東京都あさひ市", 4]
    assert ["", unknown, 1] in municipalities and len(municipalities) == 3
    assert tables["reservations"].rows == [[campaign.name, 9, 100, 6]]
    assert tables["budget"].rows == [[campaign.name, 500_000, 30_000, 4_200, 0]]


def test_national_page_has_accessible_charts_and_tables(operator_client, world):
    response = operator_client.get(reverse("points_ops:national"))
    html = response.content.decode()
    assert response.status_code == 200
    for slug in dashboards.NATIONAL_TABLES:
        chart = f"chart-{slug}"
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
        assert f'<title id="{chart}-title">' in html and f'<desc id="{chart}-desc">' in html
        assert reverse("points_ops:national_csv", args=[slug]) in html
    assert html.count('role="img"') == len(dashboards.NATIONAL_TABLES)
    assert "<script" not in html and "http://" not in html.split("<main", 1)[1].replace(
        "http://www.w3.org", ""
    )
    assert "東京都あさひ市" in html and "アサヒペイ" in html


def test_national_csv_downloads(operator_client, world, campaign):
    for slug in dashboards.NATIONAL_TABLES:
        rows = csv_rows(operator_client.get(reverse("points_ops:national_csv", args=[slug])))
        assert len(rows[0]) >= 2
    rows = csv_rows(operator_client.get(reverse("points_ops:national_csv", args=["prefectures"])))
    assert rows[1:] == [["北海道", "1"], ["東京都", "4"], [dashboards.unknown_label(), "1"]]
    scoped = reverse("points_ops:national_csv", args=["services"]) + f"?campaign={campaign.code}"
    assert csv_rows(operator_client.get(scoped))[1] == ["アサヒペイ", "asahi-pay", "3"]
    assert operator_client.get(reverse("points_ops:national_csv", args=["secrets"])).status_code == 404
    unknown_campaign = reverse("points_ops:national") + "?campaign=nope"
    assert operator_client.get(unknown_campaign).status_code == 404


def test_national_pages_are_for_operators_only(client, world):
    urls = [reverse("points_ops:national"), reverse("points_ops:national_csv", args=["services"])]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the staff sign-in
    sign_in_staff(client, StaffRoleFactory(municipality=world["asahi"]).user)
    for url in urls:
        assert client.get(url).status_code == 403


def test_points_per_day_are_grouped_by_the_date_in_japan(campaign, provider):
    application = make_application(campaign, provider)

    def row(external_id, points, local_time):
        tx = ProviderTransaction.objects.create(
            provider=provider, kind="tx" if points > 0 else "refund", external_id=external_id, fingerprint="f",
            account=application.account, amount=abs(points) * 4, status="granted", points=points, month=202009,
        )  # fmt: skip
        ProviderTransaction.objects.filter(pk=tx.pk).update(recorded_at=local_time)

    row("a", 1_000, datetime(2020, 9, 10, 23, 30, tzinfo=JST))  # 14:30 UTC on the 10th
    row("b", 500, datetime(2020, 9, 11, 0, 30, tzinfo=JST))  # 15:30 UTC on the 10th, but the 11th in Japan
    row("c", -200, datetime(2020, 9, 11, 8, 0, tzinfo=JST))
    row("d", 0, datetime(2020, 9, 12, 8, 0, tzinfo=JST))  # moved no points: not a day of activity
    table = dashboards.days_table()
    assert table.rows == [["2020-09-10", 1_000, 0, 1_000, 1], ["2020-09-11", 500, 200, 300, 2]]
    chart = table.chart
    assert [c.day.isoformat() for c in chart.columns] == ["2020-09-10", "2020-09-11"]
    assert chart.columns[0].up_height > chart.columns[1].up_height > 0 and chart.columns[1].down_height > 0


def test_national_page_queries_do_not_grow_with_data(operator_client, campaign, provider):
    url = reverse("points_ops:national")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert operator_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    make_application(campaign, provider, MunicipalityFactory(), granted=100)
    few = queries()
    for k in range(12):
        municipality = MunicipalityFactory(prefecture=PrefectureFactory(number=k % 5 + 1))
        application = make_application(campaign, provider, municipality, granted=k)
        ProviderTransaction.objects.create(
            provider=provider, kind="tx", external_id=f"t{k}", fingerprint="f", account=application.account,
            amount=400, status="granted", points=100, month=202009,
        )  # fmt: skip
    assert queries() == few <= 16


# --- Municipal -------------------------------------------------------------------------------------------------
def municipal_url(municipality, name="points_municipal:dashboard", *args) -> str:
    return reverse(name, args=[municipality.code, *args])


def test_municipal_dashboard_shows_its_residents(client, world, campaign, provider):
    asahi = world["asahi"]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi).user)
    response = client.get(municipal_url(asahi))
    html = response.content.decode()
    assert response.status_code == 200
    assert "アサヒペイ" in html and "窓口太郎" in html
    summary = response.context["summary"]
    assert (summary.applications, summary.desk_applications, summary.points_granted) == (4, 2, 3_500)
    tables = {t.slug: t for t in response.context["tables"]}
    assert tables["services"].rows == [
        ["アサヒペイ", "asahi-pay", 2, 1, 3],
        [provider.name, provider.code, 1, 0, 1],
    ]
    assert tables["desk"].rows[0][:3] == ["窓口太郎", 1, 2]
    assert html.count('role="img"') == 2 and "<script" not in html
    rows = csv_rows(client.get(municipal_url(asahi, "points_municipal:csv", "services")))
    assert rows[1] == ["アサヒペイ", "asahi-pay", "2", "1", "3"]
    assert csv_rows(client.get(municipal_url(asahi, "points_municipal:csv", "desk")))[1][:3] == [
        "窓口太郎",
        "1",
        "2",
    ]
    assert client.get(municipal_url(asahi, "points_municipal:csv", "nope")).status_code == 404


def test_a_second_municipality_sees_nothing_of_the_first(client, world):
    asahi, minami = world["asahi"], world["minami"]
    sign_in_staff(client, StaffRoleFactory(municipality=minami).user)
    assert client.get(municipal_url(asahi)).status_code == 403
    for table in dashboards.MUNICIPAL_TABLES:
        assert client.get(municipal_url(asahi, "points_municipal:csv", table)).status_code == 403

    own = client.get(municipal_url(minami))
    html = own.content.decode()
    assert own.status_code == 200
    assert "アサヒペイ" not in html and "窓口太郎" not in html and asahi.name not in html
    summary = own.context["summary"]
    assert (summary.applications, summary.desk_applications, summary.points_granted) == (1, 0, 700)
    for table in dashboards.MUNICIPAL_TABLES:
        text = client.get(municipal_url(minami, "points_municipal:csv", table)).content.decode("utf-8-sig")
        assert "アサヒペイ" not in text and "窓口太郎" not in text


def test_the_municipal_dashboard_is_for_that_municipalitys_staff(client, world):
    asahi = world["asahi"]
    assert client.get(municipal_url(asahi)).status_code == 302
    # A platform operator runs the platform but does not act inside a municipality's back office.
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    assert client.get(municipal_url(asahi)).status_code == 403


def test_municipal_page_queries_do_not_grow_with_data(client, world, campaign, provider):
    asahi = world["asahi"]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi).user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(municipal_url(asahi)).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for _ in range(4):
        clerk = UserFactory()
        StaffRoleFactory(user=clerk, municipality=asahi, clerk=True)
        session = desk_session(asahi, clerk)
        for mode in ("charge", "purchase"):
            make_application(campaign, provider, asahi, mode, desk=session, granted=10)
    assert queries() == few <= 16


# --- Charts ----------------------------------------------------------------------------------------------------
def test_charts_without_data_or_with_zeros():
    empty = dashboards.bar_chart(chart_id="c", title="t", groups=[], series=["a"])
    assert empty.groups == [] and empty.height > 0
    zeros = dashboards.bar_chart(chart_id="c", title="t", groups=[("x", [0, 0])], series=["a", "b"])
    assert [bar.width for bar in zeros.groups[0].bars] == [0.0, 0.0] and len(zeros.legend) == 2
    days = dashboards.day_chart(chart_id="d", title="t", days=[])
    assert days.columns == [] and days.x_labels == []


def test_bars_are_proportional_and_labels_shortened():
    chart = dashboards.bar_chart(chart_id="c", title="t", groups=[("とても長い自治体の名前がここに入ります", [50]),
                                                                 ("短い", [100])], series=["a"])  # fmt: skip
    first, second = chart.groups
    assert second.bars[0].width == 2 * first.bars[0].width
    assert first.short_label.endswith("…") and first.label.startswith("とても長い")
