"""The NLGov REST API Design Rules our API claims to follow, checked by the project itself.

Each rule the Logius Spectral ruleset checks (../shared/adr/linter.yaml, run by `make test` when
the shared folder is there) is a small function here that returns what breaks the rule in an
OpenAPI document; one test per rule runs it on the document the app serves at
/api/v1/openapi.json, so a fresh clone checks the rules without the shared folder or Spectral.
A second test per rule feeds it a copy of that document broken in exactly that way, so no rule
can pass by checking nothing. Where a rule is about behaviour (the version header, problem
details), a test asks the running app as well.

The file passes 400 lines on purpose: the rules, their tests and their breakages are one list
that a reader (or an auditor asking "which rules do you claim?") reads top to bottom.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import OPENAPI_PATH, create_app
from infrastructure.settings import Settings

Document = dict[str, Any]
Rule = Callable[[Document], list[str]]

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
# /core/http-methods: the standard methods the rules allow for resources (no TRACE, no custom).
STANDARD_METHODS = {"get", "put", "post", "delete", "patch"}
PATH_ITEM_FIELDS = {"summary", "description", "servers", "parameters", "$ref"}
VERSION_HEADERS = {"api-version"}
PROBLEM_MEDIA_TYPES = ("application/problem+json", "application/problem+xml")

# The patterns of the Logius ruleset, verbatim where it has one.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
OPENAPI_3 = re.compile(r"^3(\.\d+){1,2}$")
MAJOR_VERSION_IN_URI = re.compile(r"/v\d+(/|$)")
KEBAB_PATH = re.compile(
    r"^(/|(/_[a-z0-9]+|/(([a-z0-9\-]+|{[^}]+})(/([a-z0-9\-\.]+|{[^}]+}))*)(/_[a-z]+)?)/?)$"
)
LOWER_CAMEL = re.compile(r"^\$?[a-z][a-z\d]*([A-Z][a-z\d]*)*$")
UPPER_CAMEL = re.compile(r"^[A-Z][a-zA-Z\d]*$")
DATE_NAME = re.compile(r"^(date|datum)$|((\w+D)|(_[dD]))((ate)|(atum))")
PATH_PARAM = re.compile(r"{([^}]+)}")


# --------------------------------------------------------------------------- the served document


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            database_url="memory://",
            data_dir=Path(data_dir),
            jwt_secret="nlgov-rules-secret-used-by-no-token-here",
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield client


@pytest.fixture(scope="module")
def document(client: TestClient) -> Document:
    response = client.get(OPENAPI_PATH)
    assert response.status_code == 200, response.text
    served: Document = response.json()
    return served


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                yield path, method, operation


def responses(document: Document) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, method, operation in operations(document):
        for status, response in operation.get("responses", {}).items():
            yield path, method, str(status), resolve(document, response)


def resolve(document: Document, node: Any) -> Any:
    """Follows local `$ref`s (`#/components/...`) until a node without one."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are expected, not {ref}"
        assert ref not in seen, f"reference cycle at {ref}"
        seen.add(ref)
        node = document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def schema_properties(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (schema name, property name, property schema) under components/schemas."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        yield from _properties(name, schema)


def _properties(where: str, schema: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            yield where, name, prop
            yield from _properties(f"{where}.{name}", prop)
        for key in ("items", "additionalProperties"):
            yield from _properties(where, schema.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key) or []:
                yield from _properties(where, part)


def formats(prop: Any) -> set[str]:
    """The `format`s a property schema allows (directly or through allOf/anyOf/oneOf)."""
    if not isinstance(prop, dict):
        return set()
    found = {prop["format"]} if isinstance(prop.get("format"), str) else set()
    for key in ("allOf", "anyOf", "oneOf"):
        for part in prop.get(key) or []:
            found |= formats(part)
    return found


# --------------------------------------------------------------------------- the rules


def doc_openapi(document: Document) -> list[str]:
    version = document.get("openapi")
    if not version:
        return ["the document has no `openapi` field"]
    if not OPENAPI_3.match(str(version)):
        return [f"openapi {version!r} is not OpenAPI 3 (major.minor[.patch])"]
    return []


def publish_openapi(document: Document) -> list[str]:
    """What the ruleset's `oas3-*`, `operation-operationId-unique`, `path-params` and
    `openapi-tags-uniqueness` rules check: the published document is well-formed."""
    problems = []
    if not document.get("info", {}).get("title"):
        problems.append("info.title is missing")
    if not document.get("paths"):
        problems.append("the document has no paths")
    servers = document.get("servers") or []
    if not servers:
        problems.append("the document names no servers")
    problems += [f"server {s!r} has no url" for s in servers if not s.get("url")]
    tags = [tag.get("name") for tag in document.get("tags", [])]
    problems += [
        f"tag {t!r} is declared twice" for t in sorted({t for t in tags if tags.count(t) > 1})
    ]
    ids: dict[str, str] = {}
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        operation_id = operation.get("operationId")
        if not operation_id:
            problems.append(f"{where} has no operationId")
        elif operation_id in ids:
            problems.append(f"{where} reuses operationId {operation_id} of {ids[operation_id]}")
        else:
            ids[operation_id] = where
        if not operation.get("responses"):
            problems.append(f"{where} declares no responses")
        declared = [
            resolve(document, p)
            for p in document["paths"][path].get("parameters", []) + operation.get("parameters", [])
        ]
        in_path = {p["name"] for p in declared if p.get("in") == "path"}
        templated = set(PATH_PARAM.findall(path))
        problems += [f"{where}: {{{n}}} is not declared" for n in sorted(templated - in_path)]
        problems += [
            f"{where}: path parameter {n} is not in the path" for n in sorted(in_path - templated)
        ]
        problems += [
            f"{where}: path parameter {p['name']} is not required"
            for p in declared
            if p.get("in") == "path" and p.get("required") is not True
        ]
    return problems


def uri_version(document: Document) -> list[str]:
    return [
        f"server url {server.get('url')!r} has no major version (/v1)"
        for server in document.get("servers", [])
        if not MAJOR_VERSION_IN_URI.search(str(server.get("url", "")))
    ]


def version_header(document: Document) -> list[str]:
    problems = []
    for path, method, status, response in responses(document):
        if status[0] in "23":
            headers = {name.lower() for name in (response.get("headers") or {})}
            if not headers & VERSION_HEADERS:
                problems.append(f"{method.upper()} {path} {status} declares no API-Version header")
    return problems


def semver(document: Document) -> list[str]:
    version = str(document.get("info", {}).get("version", ""))
    return [] if SEMVER.match(version) else [f"info.version {version!r} is not semver"]


def no_trailing_slash(document: Document) -> list[str]:
    return [
        f"{path} ends in a slash"
        for path in document.get("paths", {})
        if len(path) > 1 and path.endswith("/")
    ]


def kebab_case_paths(document: Document) -> list[str]:
    return [
        f"{path} is not kebab-case"
        for path in document.get("paths", {})
        if not re.search(r"/openapi\.(json|yaml)$", path) and not KEBAB_PATH.match(path)
    ]


def query_keys_camel_case(document: Document) -> list[str]:
    problems = []
    for path, method, operation in operations(document):
        for parameter in (resolve(document, p) for p in operation.get("parameters", [])):
            if parameter.get("in") == "query" and not LOWER_CAMEL.match(parameter.get("name", "")):
                problems.append(f"{method.upper()} {path}: query key {parameter.get('name')!r}")
    schemes = document.get("components", {}).get("securitySchemes", {})
    problems += [
        f"security scheme {name}: query key {scheme.get('name')!r}"
        for name, scheme in schemes.items()
        if scheme.get("in") == "query" and not LOWER_CAMEL.match(scheme.get("name", ""))
    ]
    return problems


def http_methods(document: Document) -> list[str]:
    problems = []
    for path, item in document.get("paths", {}).items():
        for key in item:
            if key not in STANDARD_METHODS and key not in PATH_ITEM_FIELDS:
                problems.append(f"{path} uses {key!r}, not a standard HTTP method")
    return problems


def doc_openapi_contact(document: Document) -> list[str]:
    contact = document.get("info", {}).get("contact")
    if not contact:
        return ["info.contact is missing"]
    return [
        f"info.contact.{field} is missing"
        for field in ("name", "url", "email")
        if not contact.get(field)
    ]


def problem_details(document: Document) -> list[str]:
    problems = []
    for path, method, status, response in responses(document):
        if status[0] not in "45":
            continue
        where = f"{method.upper()} {path} {status}"
        content = response.get("content") or {}
        media = [m for m in PROBLEM_MEDIA_TYPES if m in content]
        if not media:
            problems.append(f"{where} is not application/problem+json")
            continue
        schema = resolve(document, content[media[0]].get("schema", {}))
        missing = {"status", "title", "detail"} - set(schema.get("properties") or {})
        if missing:
            problems.append(f"{where}: the problem schema lacks {sorted(missing)}")
    return problems


def invalid_input(document: Document) -> list[str]:
    problems = []
    for path, method, operation in operations(document):
        parameters = document["paths"][path].get("parameters", []) + operation.get("parameters", [])
        takes_input = method in {"put", "post", "patch"} or (
            method in {"get", "delete"} and parameters
        )
        if takes_input and "400" not in operation.get("responses", {}):
            problems.append(f"{method.upper()} {path} takes input but documents no 400")
    return problems


def date_time(document: Document) -> list[str]:
    """Dates are `date`, moments are `date-time` with a zone: the ruleset's
    date-time-ensure-timezone, time-without-timezone, specify-format-for-date-and-time and
    use-date-instead-of-datetime, plus our naming (`…On` a date, `…At` a moment)."""
    problems = []
    for where, name, prop in schema_properties(document):
        found = formats(prop)
        if "date-time-local" in found or "time" in found:
            problems.append(f"{where}.{name}: a time without its zone ({sorted(found)})")
        if (DATE_NAME.search(name) or re.search(r"[a-z]On$", name)) and found != {"date"}:
            problems.append(f"{where}.{name} names a date but has format {sorted(found)}")
        if re.search(r"[a-z]At$", name) and found != {"date-time"}:
            problems.append(f"{where}.{name} names a moment but has format {sorted(found)}")
    return problems


def servers_use_https(document: Document) -> list[str]:
    urls = [s.get("url", "") for s in document.get("servers", [])]
    for item in document.get("paths", {}).values():
        urls += [s.get("url", "") for s in item.get("servers", [])]
    return [f"server url {url!r} is plain http" for url in urls if url.startswith("http://")]


def schema_names_upper_camel_case(document: Document) -> list[str]:
    names = document.get("components", {}).get("schemas", {})
    return [
        f"schema {name!r} is not UpperCamelCase" for name in names if not UPPER_CAMEL.match(name)
    ]


def properties_lower_camel_case(document: Document) -> list[str]:
    return [
        f"{where}.{name} is not lowerCamelCase"
        for where, name, _ in schema_properties(document)
        if not LOWER_CAMEL.match(name)
    ]


# --------------------------------------------------------------------------- one test per rule


def test_doc_openapi(document: Document) -> None:
    """/core/doc-openapi: the API is described in OpenAPI 3 (Logius: nlgov:openapi3,
    nlgov:openapi-root-exists)."""
    assert doc_openapi(document) == []


def test_publish_openapi(client: TestClient, document: Document) -> None:
    """/core/publish-openapi: the document is published, without a token, at `openapi.json` under
    the versioned base path, and is well-formed (Logius: oas3-schema, oas3-api-servers,
    operation-operationId-unique, path-params, openapi-tags-uniqueness)."""
    response = client.get(OPENAPI_PATH)
    assert document["servers"][0]["url"] + "/openapi.json" == OPENAPI_PATH
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "/openapi.json" in document["paths"]
    assert publish_openapi(document) == []


def test_uri_version(document: Document) -> None:
    """/core/uri-version: the major version is in the URI (Logius:
    nlgov:include-major-version-in-uri)."""
    assert uri_version(document) == []
    assert all(server["url"].endswith("/v1") for server in document["servers"])


def test_version_header(client: TestClient, document: Document) -> None:
    """/core/version-header: every 2xx/3xx response declares the full version in API-Version, and
    responses carry it (Logius: nlgov:missing-version-header, nlgov:missing-header)."""
    assert version_header(document) == []
    served = client.get(OPENAPI_PATH)
    assert served.headers["API-Version"] == document["info"]["version"]
    refused = client.get(f"{OPENAPI_PATH.removesuffix('/openapi.json')}/contracts")
    assert refused.status_code == 401
    assert refused.headers["API-Version"] == document["info"]["version"]


def test_semver(document: Document) -> None:
    """/core/semver: info.version is a semantic version (Logius: nlgov:semver)."""
    assert semver(document) == []


def test_no_trailing_slash(document: Document) -> None:
    """/core/no-trailing-slash: no path ends in a slash (Logius: path-keys-no-trailing-slash,
    nlgov:paths-no-trailing-slash)."""
    assert no_trailing_slash(document) == []


def test_path_segments_kebab_case(document: Document) -> None:
    """/core/path-segments-kebab-case (naming resources): path segments are kebab-case
    (Logius: nlgov:paths-kebab-case)."""
    assert kebab_case_paths(document) == []


def test_query_keys_camel_case(document: Document) -> None:
    """/core/query-keys-camel-case: query keys are lowerCamelCase (Logius:
    nlgov:query-keys-camel-case)."""
    assert query_keys_camel_case(document) == []


def test_http_methods(document: Document) -> None:
    """/core/http-methods: only standard HTTP methods (Logius: nlgov:http-methods)."""
    assert http_methods(document) == []


def test_doc_openapi_contact(document: Document) -> None:
    """/core/doc-openapi-contact: info.contact has a name, url and email (Logius: info-contact,
    nlgov:info-contact-fields-exist)."""
    assert doc_openapi_contact(document) == []


def test_problem_details(client: TestClient, document: Document) -> None:
    """/core/error-handling/problem-details: every documented error is application/problem+json
    with status, title and detail, and errors are served so (Logius: nlgov:use-problem-schema,
    nlgov:problem-schema-members)."""
    assert problem_details(document) == []
    base = OPENAPI_PATH.removesuffix("/openapi.json")
    for url, status in ((f"{base}/contracts", 401), (f"{base}/no-such-resource", 404)):
        response = client.get(url)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == status
        assert body["title"]
        assert body["detail"]


def test_invalid_input(document: Document) -> None:
    """/core/error-handling/invalid-input: every operation that takes input documents a 400
    (Logius: nlgov:problem-invalid-input)."""
    assert invalid_input(document) == []


def test_date_time(document: Document) -> None:
    """/core/date-time (timezone, date-omit-time-portion): dates are `date`, moments `date-time`
    with a zone (Logius: nlgov:date-time-ensure-timezone, nlgov:time-without-timezone,
    nlgov:specify-format-for-date-and-time, nlgov:use-date-instead-of-datetime)."""
    assert date_time(document) == []


def test_servers_use_https(document: Document) -> None:
    """/core/transport/tls as the linter sees it: no server is plain http (Logius:
    nlgov:servers-use-https)."""
    assert servers_use_https(document) == []


def test_schema_names_upper_camel_case(document: Document) -> None:
    """/core/naming-resources for schemas: schema names are UpperCamelCase (Logius:
    nlgov:schema-camel-case)."""
    assert schema_names_upper_camel_case(document) == []


def test_properties_lower_camel_case(document: Document) -> None:
    """Properties are lowerCamelCase, as the API's description promises (Logius:
    nlgov:property-casing, which checks `_links`; we hold every property to it)."""
    assert properties_lower_camel_case(document) == []


# --------------------------------------------------------------------------- each rule can fail


def _first_post(document: Document) -> dict[str, Any]:
    return next(op for _, method, op in operations(document) if method == "post")


def _break_problem_media(document: Document) -> None:
    response = resolve(document, _first_post(document)["responses"]["404"])
    response["content"] = {"application/json": response["content"]["application/problem+json"]}


def _break_problem_schema(document: Document) -> None:
    del document["components"]["schemas"]["Problem"]["properties"]["detail"]


def _break_version_header(document: Document) -> None:
    ok = next(s for s in _first_post(document)["responses"] if s.startswith("2"))
    resolve(document, _first_post(document)["responses"][ok])["headers"].pop("API-Version")


BREAKAGES: dict[str, tuple[Rule, Callable[[Document], object]]] = {
    "doc-openapi": (doc_openapi, lambda d: d.update(openapi="2.0")),
    "publish-openapi: servers": (publish_openapi, lambda d: d.pop("servers")),
    "publish-openapi: operationId": (
        publish_openapi,
        lambda d: [op.update(operationId="same") for _, _, op in operations(d)],
    ),
    "publish-openapi: path params": (
        publish_openapi,
        lambda d: d["paths"].update(
            {
                "/contracts/{contractId}/x/{undeclared}": {
                    "get": {
                        "operationId": "x",
                        "responses": {"200": {}},
                        "parameters": [{"name": "contractId", "in": "path", "required": True}],
                    }
                }
            }
        ),
    ),
    "uri-version": (uri_version, lambda d: d.update(servers=[{"url": "/api"}])),
    "version-header": (version_header, _break_version_header),
    "semver": (semver, lambda d: d["info"].update(version="1.0")),
    "no-trailing-slash": (no_trailing_slash, lambda d: d["paths"].update({"/contracts/": {}})),
    "kebab-case": (kebab_case_paths, lambda d: d["paths"].update({"/contractRecords": {}})),
    "query-keys": (
        query_keys_camel_case,
        lambda d: (
            _first_post(d).setdefault("parameters", []).append({"name": "as_of", "in": "query"})
        ),
    ),
    "http-methods": (http_methods, lambda d: d["paths"]["/contracts"].update(trace={})),
    "contact": (doc_openapi_contact, lambda d: d["info"]["contact"].pop("email")),
    "problem-details: media type": (problem_details, _break_problem_media),
    "problem-details: members": (problem_details, _break_problem_schema),
    "invalid-input": (invalid_input, lambda d: _first_post(d)["responses"].pop("400")),
    "date-time": (
        date_time,
        lambda d: d["components"]["schemas"]["Problem"]["properties"].update(
            heldOn={"type": "string", "format": "date-time"}
        ),
    ),
    "servers-use-https": (
        servers_use_https,
        lambda d: d.update(servers=[{"url": "http://example.nl/api/v1"}]),
    ),
    "schema names": (
        schema_names_upper_camel_case,
        lambda d: d["components"]["schemas"].update(problem_details={}),
    ),
    "property names": (
        properties_lower_camel_case,
        lambda d: d["components"]["schemas"]["Problem"]["properties"].update(invalid_params={}),
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_rule_finds_its_breakage(document: Document, breakage: str) -> None:
    """Each rule above names what breaks it: on a copy of the served document broken in exactly
    that way, the rule reports at least one problem (so none passes by checking nothing)."""
    rule, breaker = BREAKAGES[breakage]
    broken = copy.deepcopy(document)
    breaker(broken)
    assert rule(broken) != []
