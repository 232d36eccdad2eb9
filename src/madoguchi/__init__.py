"""Madoguchi (窓口): digital public services for Japanese local governments."""

from madoguchi.conf.celery import app as celery_app

__all__ = ["celery_app"]
