import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
django.setup(set_prefix=False)

from madoguchi.core.handlers import Dispatcher  # noqa: E402 (needs Django set up)

# Django's handler for pages; a shorter middleware stack for the machine APIs (core/handlers.py).
application = Dispatcher()
