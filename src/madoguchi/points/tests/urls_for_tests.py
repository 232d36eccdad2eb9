"""The project's URLs plus the マイナポイント pages, for tests until they are wired into conf/urls.py.

Delete this file (and the @pytest.mark.urls markers in test_pages.py) once conf/urls.py includes them.
"""

from django.urls import include, path

from madoguchi.conf import urls as project  # importing it registers the `lgcode` converter (web.urls)
from madoguchi.points import urls as points_urls

urlpatterns = [
    path("points/", include("madoguchi.points.urls")),
    *project.urlpatterns,
    path(
        "<lgcode:municipality_code>/staff/desk/points/",
        include((points_urls.desk_urlpatterns, points_urls.DESK_APP_NAME)),
    ),
]

handler400 = project.handler400
handler403 = project.handler403
handler404 = project.handler404
handler500 = project.handler500
