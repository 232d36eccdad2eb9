"""Demo staff for `madoguchi demo`: an operator and staff of two municipalities (to show tenant isolation)."""

from datetime import date

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi.core.demo import DemoSignIn
from madoguchi.core.selectors import municipality_by_code
from madoguchi.identity import card_simulator, services
from madoguchi.identity.jpki import BasicInfo, TestCA
from madoguchi.identity.models import StaffRole, User
from madoguchi.identity.staff_auth import confirmed_device

DEMO_PASSWORD = "madoguchi-demo"  # noqa: S105  (demo accounts only; `demo` is refused in production)
Role = StaffRole.Role


DEMO_STAFF = [
    ("operator", "運用担当 デモ", None, [Role.PLATFORM_OPERATOR], "/admin/ — platform operator"),
    ("chiyoda-admin", "千代田区 管理者", "131016", [Role.MUNICIPAL_ADMIN, Role.AUDITOR], "/131016/staff/ — 千代田区 administrator"),
    ("chiyoda-clerk", "千代田区 窓口", "131016", [Role.DESK_CLERK], "/131016/staff/ — 千代田区 desk clerk"),
    ("sapporo-admin", "札幌市 管理者", "011002", [Role.MUNICIPAL_ADMIN, Role.AUDITOR], "/011002/staff/ — 札幌市 administrator"),
]  # fmt: skip


DEMO_CARD_PIN = "1234"
DEMO_CARD_PASSWORD = "abc123"  # noqa: S105  (demo cards only)
DEMO_CARDS = [
    ("yamada", BasicInfo(name="山田 太郎", name_kana="ヤマダ タロウ", address="東京都千代田区霞が関二丁目1番2号",
                         date_of_birth=date(1985, 4, 1), sex="1")),
    ("sato", BasicInfo(name="佐藤 花子", name_kana="サトウ ハナコ", address="北海道札幌市中央区北1条西2丁目",
                       date_of_birth=date(1990, 12, 24), sex="2")),
    ("suzuki", BasicInfo(name="鈴木 一郎", name_kana="スズキ イチロウ", address="東京都千代田区九段南1丁目2番1号",
                         date_of_birth=date(1952, 7, 7), sex="1")),
    # A child under 15 (yamada's daughter): her legal representative applies for her マイナポイント with both
    # cards. Real under-15 cards rarely have a signing certificate; the demo card has one (points.services).
    ("yamada-hanako", BasicInfo(name="山田 花子", name_kana="ヤマダ ハナコ", address="東京都千代田区霞が関二丁目1番2号",
                                date_of_birth=date(2016, 5, 5), sex="2")),
]  # fmt: skip


def load_demo_cards(*, stdout) -> list[DemoSignIn]:
    """The development test CA and demo My Number Cards (idempotent); the CRL is republished every run
    because sign-ins fail closed once it is past its next update."""
    directory = settings.JPKI_TEST_CA_DIR
    try:
        ca = TestCA.load(directory)
    except (FileNotFoundError, ValueError):
        ca = TestCA.init(directory)
    ca.crl()
    cards = card_simulator.card_dir()
    cards.mkdir(parents=True, exist_ok=True)
    for key, info in DEMO_CARDS:
        path = cards / f"{key}.json"
        if not path.exists():
            ca.issue_card(basic_info=info, pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD, out_path=path)
    stdout.write(f"Demo My Number Cards: {len(DEMO_CARDS)} in {cards} (PIN {DEMO_CARD_PIN}, "
                 f"signing password {DEMO_CARD_PASSWORD}).")  # fmt: skip
    return [DemoSignIn("http://localhost:8000/sign-in/", f"card: {key}", f"PIN {DEMO_CARD_PIN}",
                       "resident sign-in with the card simulator") for key, _info in DEMO_CARDS]  # fmt: skip


def load_demo(*, stdout) -> list[DemoSignIn]:
    return _load_staff(stdout=stdout) + load_demo_cards(stdout=stdout)


@transaction.atomic
def _load_staff(*, stdout) -> list[DemoSignIn]:
    sign_ins = []
    for username, display_name, code, roles, note in DEMO_STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = services.staff_user_create(
                username=username, password=DEMO_PASSWORD, display_name=display_name
            )
        municipality = municipality_by_code(code) if code else None
        for role in roles:
            services.staff_role_grant(user=user, role=role, municipality=municipality)
        # An enrolled authenticator, so a demonstration needs no phone: `madoguchi demo_totp USER` shows its code.
        if confirmed_device(user) is None:
            TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)
        sign_ins.append(
            DemoSignIn(
                "http://localhost:8000" + note.split(" — ")[0], username, DEMO_PASSWORD, note.split(" — ")[1]
            )
        )
    stdout.write(f"Demo staff: {len(DEMO_STAFF)} accounts. Their two-step code: madoguchi demo_totp USERNAME")
    return sign_ins
