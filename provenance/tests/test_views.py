from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.tests.factories import upload_dataset
from conftest import ROLES

pytestmark = pytest.mark.django_db

BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}


@pytest.mark.parametrize("role", ROLES)
def test_lineage_page_permissions(client_for, member, role: str) -> None:
    dataset = upload_dataset(member)
    response = client_for(role).get(reverse("provenance:dataset_lineage", args=[dataset.pk]))
    assert response.status_code == BROWSE[role]


@pytest.mark.parametrize("role", ROLES)
def test_prov_json_permissions(client_for, member, role: str) -> None:
    dataset = upload_dataset(member)
    response = client_for(role).get(reverse("provenance:dataset_prov_json", args=[dataset.pk]))
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert f"dataset:{dataset.pk}" in response.json()["entity"]


def test_unknown_dataset_is_404_with_the_reason(client_for) -> None:
    url = reverse("provenance:dataset_lineage", args=["00000000-0000-0000-0000-000000000000"])
    response = client_for("viewer").get(url)
    assert response.status_code == 404
    assert "No such dataset." in response.content.decode()
