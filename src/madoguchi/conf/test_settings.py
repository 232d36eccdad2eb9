"""Settings for the test suite: the real settings, made fast (Django's test guidance: a cheap hasher)."""

from madoguchi.conf.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_AUTOREFRESH = True
# Tests run inside a transaction that the grant committer's thread cannot see; the coalescer's own tests turn
# it on with real transactions (points/tests/test_coalesce.py).
POINTS_GRANT_COALESCING = False
