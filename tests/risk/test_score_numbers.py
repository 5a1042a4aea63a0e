"""Issue 18, item 15: the same number reads the same everywhere: the sub-score on the project page
equals the one on the findings page (no 51/70 beside 50.5/70), and points never read "−6.0"."""

import re

import pytest

from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_sub_scores_and_points_read_the_same_on_every_page(people, client_for):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    client = client_for(people.viewer)
    base = f"/o/{people.org.slug}/p/{project.slug}"
    pages = {name: client.get(base + path).content.decode()
             for name, path in (("project", "/"), ("findings", "/findings/"), ("formula", "/score/"))}
    subscores = {name: re.findall(r"security ([\d.]+)/70", html) for name, html in pages.items()}
    assert subscores["project"] and subscores["project"] == subscores["findings"], subscores
    for name, html in pages.items():
        assert not re.search(r"−\d+\.0 pts|−\d+\.00<", html), name


def test_one_helper_formats_scores_and_deductions():
    from apps.core.numbers import deduction, points
    from apps.reports.charts import _fmt

    assert [points(v) for v in (50.5, 51.0, 6, 12.25, 0.0, -0.0, "x", None)] == \
        ["50.5", "51", "6", "12.25", "0", "0", "—", "—"]
    assert [deduction(v) for v in (6.0, 6, 0.5, -6, 0)] == ["−6", "−6", "−0.5", "−6", "0"]
    assert _fmt(50.5) == points(50.5) and _fmt(6.0) == "6"


def test_deduction_table_and_formula_use_the_same_numbers(people, client_for):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    client = client_for(people.viewer)
    base = f"/o/{people.org.slug}/p/{project.slug}"
    formula = client.get(base + "/score/").content.decode()
    table = formula.split('data-testid="deductions"')[1].split("</table>")[0]
    cells = re.findall(r'text-danger">([^<]+)<', table)
    assert cells and all(re.fullmatch(r"−\d+(\.\d{1,2})?", c) for c in cells), cells
    assert not any(c.endswith(".0") for c in cells)
    project_page = client.get(base + "/").content.decode()
    findings = client.get(base + "/findings/").content.decode()
    security = re.findall(r"ecurity ([\d.]+)", formula)[0]
    assert f"security {security}/70" in project_page and f"security {security}/70" in findings
