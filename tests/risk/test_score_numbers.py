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
