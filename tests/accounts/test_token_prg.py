"""Issue 18, item 7: creating a token is POST/redirect/GET (a reload never creates a second
one) and the one-time token has a copy button."""

import pytest

from apps.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_create_redirects_shows_once_and_reload_creates_nothing(people, client_for):
    client = client_for(people.member)
    url = f"/o/{people.org.slug}/tokens/"
    response = client.post(url, {"name": "laptop", "expires_days": 30})
    assert response.status_code == 302 and response["Location"] == url
    assert ApiToken.objects.filter(user=people.member).count() == 1
    shown = client.get(url).content.decode()
    assert 'data-testid="new-token"' in shown and 'data-copy="new-token"' in shown
    assert ApiToken.objects.get(user=people.member).prefix in shown
    # a reload (GET) shows it no more and creates nothing
    again = client.get(url).content.decode()
    assert 'data-testid="new-token"' not in again
    assert ApiToken.objects.filter(user=people.member).count() == 1


def test_a_bad_form_is_shown_again_without_a_redirect(people, client_for):
    response = client_for(people.member).post(f"/o/{people.org.slug}/tokens/", {"name": "", "expires_days": 30})
    assert response.status_code == 200 and not ApiToken.objects.filter(user=people.member).exists()
