"""The ASGI entry point: Django (the machine-API stack for the machine APIs, as in wsgi.py), with the online point
grant answered in front of it (points/front.py)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
# Django runs each ASGI request's code in a thread of its own: a kept connection would outlive the thread (Django's
# advice: no persistent connections under ASGI). The grant committer keeps its own (points/coalesce.py).
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
django.setup(set_prefix=False)

from madoguchi.core.handlers import ASGIDispatcher  # noqa: E402 (needs Django set up)
from madoguchi.points.front import GrantFront  # noqa: E402

django_application = ASGIDispatcher()
application = GrantFront(django_application)
