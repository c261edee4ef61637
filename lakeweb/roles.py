"""Roles (SPEC §1) as Django groups, and the permissions each app grants them.

Each app's data migration calls :func:`grant` for its own permissions, so
dependencies keep pointing one way (backups and provenance use catalog).
"""

from __future__ import annotations

from typing import Any

VIEWER, MEMBER, CURATOR = "viewer", "member", "curator"
ROLES = (VIEWER, MEMBER, CURATOR)

# app label -> role -> permission codenames; each role also gets the ones before it.
PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "catalog": {
        VIEWER: [
            "view_dataset",
            "view_datafile",
            "view_source",
            "view_tag",
            "view_metadataform",
            "view_promotion",
            "view_provenanceevent",
        ],
        MEMBER: ["add_dataset", "promote_to_processed", "add_provenanceevent"],
        CURATOR: ["promote_onward", "delete_dataset", "view_fixityfailure"],
    },
    # Its events moved to catalog (with their permissions); lineage has no model of its own.
    "provenance": {
        VIEWER: ["view_pipelinerun"],
        MEMBER: ["run_pipeline"],
        CURATOR: ["run_pipeline_curated"],
    },
    "backups": {
        VIEWER: [],
        MEMBER: [],
        CURATOR: ["view_backupjob", "trigger_backup"],
    },
}


def codenames_for(app_label: str, role: str) -> list[str]:
    """Every codename a role holds in an app, inherited ones included."""
    ladder = ROLES[: ROLES.index(role) + 1]
    return [code for step in ladder for code in PERMISSIONS[app_label][step]]


def grant(apps: Any, app_label: str) -> None:
    """Data-migration helper: create the role groups and give them this app's permissions."""
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        perms = permission_model.objects.filter(
            content_type__app_label=app_label, codename__in=codenames_for(app_label, role)
        )
        group.permissions.add(*perms)
