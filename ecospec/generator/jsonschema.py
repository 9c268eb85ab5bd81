"""The JSON Schema of one spec file, for editors (yaml-language-server) and CI."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from ecospec.generator.model import LandingFile, Spec

SCHEMA_ID = "https://ecospec.dev/schema/spec.json"


def spec_file_schema() -> dict[str, Any]:
    """A schema any file under spec/ validates against: sections, settings, or one landing."""
    schema = TypeAdapter(Spec | LandingFile).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Ecospec spec file",
        "description": "A file under spec/: ecosystem settings and sections "
        "(entities, roles, landings, seed), or one landing (`landing: name`).",
        **schema,
    }


def spec_file_schema_text() -> str:
    return json.dumps(spec_file_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
