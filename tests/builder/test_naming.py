"""Names of imported APIs: short, from the title, else the server's host."""

from __future__ import annotations

import pytest

from connectql.builder.naming import short_name


@pytest.mark.parametrize(
    ("title", "url", "name"),
    [
        pytest.param(
            "GitHub's official OpenAPI spec + Octokit extension",
            "https://api.github.com",
            "github",
            id="possessive-and-stop-words",
        ),
        pytest.param("GitHub\u2019s REST API", "", "github", id="typographic-apostrophe"),
        pytest.param("Shop API", "", "shop", id="api-dropped"),
        pytest.param("Swagger Petstore", "", "petstore", id="swagger-dropped"),
        pytest.param("The Jira Cloud platform REST API", "", "jira", id="article-dropped"),
        pytest.param("Café API", "", "cafe", id="accents"),
        pytest.param("REST API v3", "https://api.stripe.com/v1", "stripe", id="host-when-no-word"),
        pytest.param("API", "https://my-shop.example.com", "my_shop", id="host-label-snake"),
        pytest.param("API", "http://127.0.0.1:8080", "imported", id="ip-host"),
        pytest.param("", "", "imported", id="nothing"),
        pytest.param("3D Secure API", "", "api_3_d", id="leading-digit"),
    ],
)
def test_short_name(title: str, url: str, name: str) -> None:
    assert short_name(title, url) == name
