"""Fixtures for access management: an IS administrator (screens and API) and a custom role."""

from __future__ import annotations

import pytest

from kcs.models import Role
from tests.factories import UserFactory, token_client


@pytest.fixture
def isadm(db):
    return UserFactory(username="isadm", groups=["IS administrator"])


@pytest.fixture
def isadm_client(client, isadm):
    client.force_login(isadm)
    return client


@pytest.fixture
def isadm_api(isadm):
    return token_client(isadm)


@pytest.fixture
def system_roles(db) -> dict[str, Role]:
    return {role.role_id: role for role in Role.objects.select_related("group")}
