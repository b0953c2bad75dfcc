"""The OpenAPI document describes every /api/v1 route, and the docs page lists them."""

from __future__ import annotations

import re
from html import unescape

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# The document and its page describe the API; they are not operations of it.
META_ENDPOINTS = {"api_docs.openapi", "api_docs.docs"}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def app_operations(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every /api/v1 rule the app really routes."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in META_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def spec_operations(spec) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def resolve(spec, ref: str):
    assert ref.startswith("#/"), f"external reference {ref}"
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert part in node, f"dangling reference {ref}"
        node = node[part]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


def test_document_is_openapi_3(spec):
    assert re.fullmatch(r"3\.\d+\.\d+", spec["openapi"])
    assert spec["info"]["title"] == "LiveLite API"
    assert spec["info"]["version"] == "v1"
    assert isinstance(spec["paths"], dict) and spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Personal access token (ll_...)",
    }
    assert schemes["sessionCookie"]["in"] == "cookie"

    operation_ids = []
    for path, item in spec["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, op in item.items():
            if method not in HTTP_METHODS:
                assert method in ("parameters", "summary", "description", "servers", "$ref"), method
                continue
            where = f"{method.upper()} {path}"
            assert op.get("responses"), f"{where} has no responses"
            for code, response in op["responses"].items():
                assert code == "default" or re.fullmatch(r"[1-5]\d\d", str(code)), where
                if "$ref" in response:
                    response = resolve(spec, response["$ref"])
                assert "description" in response, f"{where} {code} lacks a description"
            for requirement in op.get("security", []):
                assert set(requirement) <= set(schemes), where
            # Every {name} in the path is declared as a required path parameter.
            params = item.get("parameters", []) + op.get("parameters", [])
            params = [resolve(spec, p["$ref"]) if "$ref" in p else p for p in params]
            declared = {p["name"] for p in params if p["in"] == "path" and p.get("required")}
            assert set(re.findall(r"{([^}]+)}", path)) == declared, where
            if "operationId" in op:
                operation_ids.append(op["operationId"])
    assert len(operation_ids) == len(set(operation_ids))
    for ref in all_refs(spec):
        resolve(spec, ref)


def test_every_api_route_is_documented(app, spec):
    routed = app_operations(app)
    documented = spec_operations(spec)
    assert routed, "the app routes no /api/v1 operation"
    assert routed - documented == set(), "routes missing from openapi.json"
    assert documented - routed == set(), "documented operations the app does not route"


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/accounts", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/me/avatar", "put"),
        ("/api/v1/users/{username}/follow", "put"),
        ("/api/v1/users/{username}/follow", "delete"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/admin/users/{user_id}/role", "put"),
    ],
)
def test_known_operations_are_described(spec, path, method):
    op = spec["paths"][path][method]
    assert op.get("summary") or op.get("description")


def test_registration_documents_its_422(spec):
    op = spec["paths"]["/api/v1/accounts"]["post"]
    assert "201" in op["responses"] and "422" in op["responses"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    schema = resolve(spec, body["$ref"]) if "$ref" in body else body
    assert {"username", "display_name", "email", "password", "birth_date"} <= set(schema["required"])


def test_docs_page_lists_every_operation(client, spec):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    listed = {
        (unescape(path), method.lower())
        for method, path in re.findall(
            r'<span class="method method-\w+">(\w+)</span> <code>([^<]+)</code>', html
        )
    }
    assert listed == spec_operations(spec)
    assert "Follow (idempotent)." in html
    assert 'href="/api/v1/openapi.json"' in html
