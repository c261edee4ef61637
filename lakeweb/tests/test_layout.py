"""The apps depend one way (STYLE.md, README "Layout"): backups -> provenance -> catalog.

catalog imports neither provenance nor backups; provenance does not import
backups; and no app imports another app's views or API module (the project
package wires those into URLs). Every module of each app is read, its tests
and migrations included. An app's templates (``templates/<app>/``) follow the
same direction: they link to other apps' pages by URL name, but include or
extend only templates of the apps the app may import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("catalog", "provenance", "backups")
# What each app may not import at all; another app's views and api are refused for every app.
NEVER = {"catalog": {"provenance", "backups"}, "provenance": {"backups"}, "backups": set()}
PAGES = {"views", "api"}
TEMPLATE_USE = re.compile(r"{%\s*(?:include|extends)\s+[\"']([^\"'/]+)/")


def imported(source: str, module: str) -> set[str]:
    """Every module name ``source`` (the module ``module``) imports, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # from app import views
    return names


def refusal(app: str, name: str) -> str | None:
    """Why ``app`` may not import ``name``; None when it may."""
    top, _, rest = name.partition(".")
    if top not in APPS or top == app:
        return None
    if top in NEVER[app]:
        return f"{app} must not depend on {top}"
    if rest.split(".")[0] in PAGES:
        return f"no app imports another app's {rest.split('.')[0]}"
    return None


def _module_name(path: Path) -> str:
    # A package's __init__ counts as a module inside it, so "from . import x" resolves.
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def offences(app: str) -> list[str]:
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for name in sorted(imported(path.read_text(encoding="utf-8"), _module_name(path))):
            why = refusal(app, name)
            if why:
                found.append(f"{path.relative_to(ROOT)} imports {name}: {why}")
    return found


def template_offences(app: str) -> list[str]:
    found = []
    for path in sorted((ROOT / "templates" / app).rglob("*.html")):
        for folder in TEMPLATE_USE.findall(path.read_text(encoding="utf-8")):
            if folder in NEVER[app]:
                found.append(f"{path.relative_to(ROOT)} uses {folder}/ templates")
    return found


@pytest.mark.parametrize("app", APPS)
def test_app_imports_and_templates_point_one_way(app: str) -> None:
    assert len(list((ROOT / app).rglob("*.py"))) > 10  # the app's modules were read
    assert offences(app) == []
    assert template_offences(app) == []


def test_template_rule_sees_includes_and_extends() -> None:
    used = "{% include \"provenance/_graph.html\" %} {%extends 'backups/base.html'%}"
    assert TEMPLATE_USE.findall(used) == ["provenance", "backups"]
    assert TEMPLATE_USE.findall("{% url 'provenance:dataset_lineage' dataset.pk %}") == []


@pytest.mark.parametrize(
    ("app", "source", "module", "why"),
    [
        ("catalog", "from provenance.selectors import lineage", "catalog.x", "depend on"),
        ("catalog", "import backups.services", "catalog.x", "depend on"),
        ("provenance", "from backups.models import BackupJob", "provenance.x", "depend on"),
        ("provenance", "from catalog.api import ready_dataset", "provenance.x", "api"),
        ("provenance", "from catalog import views", "provenance.x", "views"),
        ("backups", "from catalog.views.browse import get", "backups.x", "views"),
        ("backups", "from provenance import api", "backups.x", "api"),
    ],
)
def test_rule_finds_each_kind_of_wrong_import(app: str, source: str, module: str, why: str) -> None:
    reasons = [refusal(app, name) for name in imported(source, module)]
    assert any(reason and why in reason for reason in reasons)


@pytest.mark.parametrize(
    ("app", "source", "module"),
    [
        ("provenance", "from catalog.selectors import dataset_get", "provenance.views"),
        ("backups", "from catalog.services import provenance_record", "backups.services"),
        ("backups", "from provenance.selectors import lineage", "backups.services"),
        ("catalog", "from .. import selectors", "catalog.views.browse"),
        ("catalog", "from ..views import browse", "catalog.tests.test_views"),
    ],
)
def test_rule_lets_the_allowed_imports_through(app: str, source: str, module: str) -> None:
    assert [refusal(app, name) for name in imported(source, module)] == [None, None]
