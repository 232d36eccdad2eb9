from django.urls import path, register_converter

from madoguchi.core.converters import LocalGovernmentCodeConverter
from madoguchi.web.views import desk, public, resident, staff

app_name = "web"
register_converter(LocalGovernmentCodeConverter, "lgcode")

urlpatterns = [
    path("", public.home, name="home"),
    path("search/", public.municipality_search, name="municipality_search"),
    path("prefectures/<int:number>/", public.prefecture_detail, name="prefecture_detail"),
    path("sign-in/", resident.resident_sign_in, name="resident_sign_in"),
    path("sign-out/", resident.resident_sign_out, name="resident_sign_out"),
    path("me/", resident.resident_home, name="resident_home"),
    path("me/mykey/", resident.resident_mykey_setup, name="resident_mykey_setup"),
    path("<lgcode:municipality_code>/", public.municipality_home, name="municipality_home"),
]

# Staff pages (every path with a "staff/" segment): ZoneMiddleware refuses them in the Internet zone.
urlpatterns += [
    path("staff/", staff.staff_home, name="staff_home"),
    path("staff/login/", staff.StaffLoginView.as_view(), name="staff_login"),
    path("staff/logout/", staff.StaffLogoutView.as_view(), name="staff_logout"),
    path("staff/mfa/", staff.staff_mfa, name="staff_mfa"),
    path("<lgcode:municipality_code>/staff/", staff.municipality_dashboard, name="staff_dashboard"),
    path("<lgcode:municipality_code>/staff/audit/", staff.audit_log, name="staff_audit"),
    path("<lgcode:municipality_code>/staff/desk/", desk.desk_home, name="staff_desk"),
    path("<lgcode:municipality_code>/staff/desk/start/", desk.desk_start, name="staff_desk_start"),
    path("<lgcode:municipality_code>/staff/desk/next/", desk.desk_next, name="staff_desk_next"),
    path(
        "<lgcode:municipality_code>/staff/desk/identify/",
        desk.desk_identify_with_simulator,
        name="staff_desk_identify",
    ),
    path(
        "<lgcode:municipality_code>/staff/desk/card-reset/",
        desk.desk_card_reset,
        name="staff_desk_card_reset",
    ),
]
