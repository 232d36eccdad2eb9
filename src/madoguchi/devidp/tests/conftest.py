import pytest
from django.conf import settings

from madoguchi.devidp.tests.fixtures import DevIdp, dev_idp_setup

# The provider is installed only in development (DEV_IDP_ENABLED); without it there is nothing to test here.
if "madoguchi.devidp" not in settings.INSTALLED_APPS:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def dev_idp(db) -> DevIdp:
    return dev_idp_setup()
