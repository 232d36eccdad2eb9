from django.conf import settings


def platform(request):
    return {"platform_name": settings.MADOGUCHI_SITE_NAME, "zone": settings.MADOGUCHI_ZONE}
