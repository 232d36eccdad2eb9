"""Demo staff for `madoguchi demo`: an operator and staff of two municipalities (to show tenant isolation)."""

from django.db import transaction

from madoguchi.core.demo import DemoSignIn
from madoguchi.core.selectors import municipality_by_code
from madoguchi.identity import services
from madoguchi.identity.models import StaffRole, User

DEMO_PASSWORD = "madoguchi-demo"  # noqa: S105  (demo accounts only; `demo` is refused in production)
Role = StaffRole.Role


DEMO_STAFF = [
    ("operator", "運用担当 デモ", None, [Role.PLATFORM_OPERATOR], "/admin/ — platform operator"),
    ("chiyoda-admin", "千代田区 管理者", "131016", [Role.MUNICIPAL_ADMIN, Role.AUDITOR], "/131016/staff/ — 千代田区 administrator"),
    ("chiyoda-clerk", "千代田区 窓口", "131016", [Role.DESK_CLERK], "/131016/staff/ — 千代田区 desk clerk"),
    ("sapporo-admin", "札幌市 管理者", "011002", [Role.MUNICIPAL_ADMIN, Role.AUDITOR], "/011002/staff/ — 札幌市 administrator"),
]  # fmt: skip


@transaction.atomic
def load_demo(*, stdout) -> list[DemoSignIn]:
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
        sign_ins.append(
            DemoSignIn(
                "http://localhost:8000" + note.split(" — ")[0], username, DEMO_PASSWORD, note.split(" — ")[1]
            )
        )
    stdout.write(f"Demo staff: {len(DEMO_STAFF)} accounts.")
    return sign_ins
