"""The OpenAPI document and a readable page generated from it (no CDN, no inline script)."""

from flask import Blueprint, jsonify, render_template

from livelite.extensions import api, limiter

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.route("/openapi.json")
@limiter.exempt
def openapi():
    return jsonify(api.spec.to_dict())


@bp.route("/docs")
def docs():
    spec = api.spec.to_dict()
    operations = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append({"path": path, "method": method.upper(), **op})
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return render_template("api/docs.html", spec=spec, operations=operations, tags=tags)
