"""Demo data of the online procedures: the national catalogue, 千代田区's procedures (the six real examples
adopted from the national templates, the birth one-stop's procedures and an own procedure built with the
form builder's JSON), 札幌市's catalogue, and a year of cases for the online-usage statistics."""

import json
from datetime import date

from django.utils import timezone

from madoguchi.core.demo import DemoSignIn
from madoguchi.core.selectors import municipality_by_code
from madoguchi.core.wareki import fiscal_year
from madoguchi.identity.models import User
from madoguchi.procedures import services
from madoguchi.procedures.models import Procedure, ProcedureTemplate, Submission, UsageTally

CHIYODA, SAPPORO = "131016", "011002"
ADOPT_CHIYODA = [
    "kosodate-jido-teate-nintei", "hisai-risai-shomei", "inu-toroku-shibo", "suido-shiyo-kaishi",
    "sodai-gomi-shushu", "kenshu-event-moshikomi", "kosodate-shikyu-nintei", "kosodate-hoiku-riyo-moshikomi",
    "kaigo-yokaigo-nintei", "tosho-kashidashi-yoyaku",
]  # fmt: skip
ADOPT_SAPPORO = ["suido-shiyo-kaishi", "sodai-gomi-shushu", "kosodate-jido-teate-nintei"]
CONTACT = {
    CHIYODA: ("区民サービス課", "千代田区役所 電話 03-3264-2111（代表）"),
    SAPPORO: ("市民サービス課", "札幌市役所 電話 011-211-2111（代表）"),
}
# Last fiscal year's volumes for the statistics page (demo figures, not real counts).
DEMO_VOLUMES = {
    "sodai-gomi-shushu": (412, 230, 35),
    "suido-shiyo-kaishi": (120, 260, 80),
    "inu-toroku-shibo": (18, 95, 40),
    "kosodate-jido-teate-nintei": (64, 140, 22),
}


def load_demo(*, stdout) -> list[DemoSignIn]:
    services.catalogue_load(stdout=stdout)
    operator = User.objects.filter(username="chiyoda-admin").first()
    for code, wanted in ((CHIYODA, ADOPT_CHIYODA), (SAPPORO, ADOPT_SAPPORO)):
        municipality = municipality_by_code(code)
        department, contact = CONTACT[code]
        for template in ProcedureTemplate.objects.filter(code__in=wanted):
            if not Procedure.objects.filter(municipality=municipality, code=template.code).exists():
                services.procedure_adopt(
                    municipality=municipality, template=template, actor=operator, department=department,
                    contact=contact,
                )  # fmt: skip
    chiyoda = municipality_by_code(CHIYODA)
    own = Procedure.objects.filter(municipality=chiyoda, code="chiyoda-digital-kouza").first()
    if own is None:
        own = services.procedure_create(
            municipality=chiyoda, actor=operator, code="chiyoda-digital-kouza",
            name="スマホ・デジタル活用講座 参加申込", category="shisetsu",
            summary="区民向けのスマートフォン・マイナンバーカード活用講座（無料）の参加申込です。",
            life_events=["daily_life"],
        )  # fmt: skip
        definition = json.loads(
            (services.DATA_DIR / "forms" / "event-moshikomi.json").read_text(encoding="utf-8")
        )
        definition["title"] = {
            "ja": "スマホ・デジタル活用講座 参加申込",
            "en": "Smartphone and digital skills course",
        }
        services.form_draft_save(procedure=own, definition=definition, actor=operator)
        services.form_publish(procedure=own, actor=operator)
        services.procedure_set_status(procedure=own, actor=operator, status=Procedure.Status.PUBLISHED)
    _volumes(chiyoda, operator)
    stdout.write(
        f"Online procedures: {Procedure.objects.filter(municipality=chiyoda).count()} in 千代田区, "
        f"{Procedure.objects.filter(municipality__code=SAPPORO).count()} in 札幌市."
    )
    return [
        DemoSignIn("http://localhost:8000/procedures/", "—", "—", "find a procedure (ぴったりサービス)"),
        DemoSignIn("http://localhost:8000/131016/staff/procedures/", "chiyoda-admin", "madoguchi-demo",
                   "千代田区 procedures: inbox, form builder, statistics"),
    ]  # fmt: skip


def _volumes(municipality, operator) -> None:
    """Last fiscal year: counter and paper counts as tallies, and some online cases recorded for the chart."""
    last_fy = fiscal_year(timezone.localdate()) - 1
    for code, (online, counter, paper) in DEMO_VOLUMES.items():
        procedure = Procedure.objects.filter(municipality=municipality, code=code).first()
        if procedure is None or UsageTally.objects.filter(procedure=procedure, fiscal_year=last_fy).exists():
            continue
        services.tally_set(
            procedure=procedure, fiscal_year=last_fy, channel="counter", count=counter, actor=operator
        )
        services.tally_set(
            procedure=procedure, fiscal_year=last_fy, channel="paper", count=paper, actor=operator
        )
        # Online cases of last year, as whole rows: bulk-created (demo only) so that the statistics have them.
        Submission.objects.bulk_create(
            [
                Submission(
                    municipality=municipality, procedure=procedure, form_version=procedure.current_version,
                    reference=f"{municipality.code[:5]}-D{code[:2].upper()}{n:04d}",
                    channel=Submission.Channel.ONLINE, status=Submission.Status.COMPLETED,
                    submitted_at=timezone.now(), fiscal_year=last_fy, closed_at=timezone.now(),
                    retain_until=date(last_fy + 6, 3, 31),
                )
                for n in range(online)
            ]
        )  # fmt: skip
