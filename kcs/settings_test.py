"""Settings for the test suite: the product's settings (:mod:`kcs.settings`) without writing anything to disk.

On a first start ``kcs.settings`` creates ``var/`` and its folders and generates ``SECRET_KEY`` and
``KCS_ENCRYPTION_KEY`` into it. Here the keys are fixed, no folder is created, the broker is in-process unless
``CELERY_BROKER_URL`` names a Redis or RabbitMQ server (the end-to-end tests share one with a real worker),
nothing is collected into ``STATIC_ROOT`` and passwords are hashed cheaply. ``DATABASE_URL`` works as in the product (SQLite when unset).
"""

from __future__ import annotations

import os

from kcs.env import writes_nothing

# Fixed keys: a test run needs no var/, and what it stores does not depend on the machine it ran on.
os.environ["SECRET_KEY"] = "kcs-tests-only-secret-key-never-used-in-production"
os.environ["KCS_ENCRYPTION_KEY"] = "a2NzLXRlc3QtZmVybmV0LWtleS1ub3QtYS1zZWNyZXQ="
# Metrics stay in this process's memory (no multiprocess files under var/); tests that need /metrics on set the token.
os.environ["KCS_METRICS_TOKEN"] = ""
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

with writes_nothing():
    from kcs.settings import *  # noqa: F403
    from kcs.settings import CELERY_BROKER_URL

if CELERY_BROKER_URL.startswith("filesystem://"):
    # The product's default broker is folders under var/. Tasks run in-process in the tests (see conftest), so an
    # in-memory broker serves the health check; the end-to-end tests skip without Redis.
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}

STATIC_ROOT = None  # WhiteNoise serves from the app folders (WHITENOISE_USE_FINDERS); nothing is collected in tests
# The product's PBKDF2 costs most of a second per user created or signed in; that work proves nothing here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Test clients send hundreds of requests a minute with one token (the fuzzing run thousands): the product's default
# would refuse some. tests/test_api_throttle.py sets its own rates.
KCS_API_TOKEN_RATE = "1000000/minute"
