"""Write the OpenAPI document the service serves to a file (for the Logius linter in
`make lint-openapi`): the app is built on an in-memory store and asked for
/api/v1/openapi.json through its own HTTP stack, so the file is exactly what clients get.

    python tests/tools/dump_openapi.py OUT.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

from api.app import OPENAPI_PATH, create_app
from infrastructure.settings import Settings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT.json", file=sys.stderr)
        return 2
    # Starlette's TestClient warns that it prefers httpx2; httpx is what the project vets.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            database_url="memory://",
            data_dir=Path(data_dir),
            jwt_secret="openapi-dump-secret-not-used-for-anything-else",
        )
        with TestClient(create_app(settings)) as client:
            response = client.get(OPENAPI_PATH)
    if response.status_code != 200:
        print(f"{OPENAPI_PATH} answered {response.status_code}", file=sys.stderr)
        return 1
    Path(argv[1]).write_text(json.dumps(response.json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
