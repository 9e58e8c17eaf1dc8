"""The roles' migration: members of today's groups keep their access as members of the system roles, and the
``admin`` user that ``make run`` made becomes an IS administrator."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from kcs.models import Role
from tests.factories import PASSWORD, token_client, vulnerability

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE_ROLES = [("kcs", "0005_roles")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_members_of_todays_groups_keep_their_access():
    _migrate(BEFORE_ROLES)  # the roles' seed undone: the groups of before, with their old names
    assert set(Group.objects.values_list("name", flat=True)) >= {"Security officer", "Auditor", "Scanner"}
    assert not Role.objects.exists()
    User = get_user_model()
    officer = User.objects.create_user("officer", password=PASSWORD)
    officer.groups.add(Group.objects.get(name="Security officer"))
    auditor = User.objects.create_user("auditor", password=PASSWORD)
    auditor.groups.add(Group.objects.get(name="Auditor"))
    scanner = User.objects.create_user("gitlab-ci", password=PASSWORD)
    scanner.groups.add(Group.objects.get(name="Scanner"))
    admin = User.objects.create_superuser("admin", "admin@localhost", PASSWORD)
    group_ids = {name: Group.objects.get(name=name).pk for name in ("Security officer", "Auditor", "Scanner")}

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    roles = {role.role_id: role for role in Role.objects.select_related("group")}
    assert roles["ISOFF"].group_id == group_ids["Security officer"] and roles["ISOFF"].group.name == "IS officer"
    assert roles["ISAUD"].group_id == group_ids["Auditor"] and roles["ISAUD"].group.name == "IS auditor"
    assert roles["SCANNER"].group_id == group_ids["Scanner"]
    assert not Group.objects.filter(name__in=["Security officer", "Auditor"]).exists()
    officer = User.objects.get(username="officer")
    assert officer.has_perms(["policies.manage_responsepolicy", "kcs.manage_scope", "kcs.view_auditentry"])
    assert token_client(officer).get("/api/v1/response-policies/").status_code == 200
    auditor = User.objects.get(username="auditor")
    assert auditor.has_perm("policies.view_responsepolicy") and not auditor.has_perm("policies.manage_responsepolicy")
    assert token_client(scanner).post("/api/v1/events/", vulnerability(), format="json").status_code == 201
    assert list(admin.groups.values_list("role__role_id", flat=True)) == ["ISADM"]
