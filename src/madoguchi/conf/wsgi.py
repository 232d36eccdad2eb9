import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
django.setup(set_prefix=False)

from madoguchi.core.handlers import Dispatcher  # noqa: E402 (needs Django set up)
from madoguchi.points.api import transactions_lane  # noqa: E402

# Django's handler for pages; a shorter middleware stack for the machine APIs, with the online point grant's
# lane (core/handlers.py).
application = Dispatcher(lanes={"/api/v1/points/transactions": transactions_lane})
