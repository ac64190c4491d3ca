"""Hostile artifacts, crafted the way an attacker would, for the trust-boundary tests."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path


def _str(value: str, ident: int) -> dict[str, object]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": ident,
    }


def exec_skops(path: Path, marker: Path) -> Path:
    """A ``.skops`` file whose loading calls ``builtins.exec``: skops' LossNode builds its object by calling
    the class the file names, with the file's arguments (the reduce pattern)."""
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"  # closes the file it writes
    schema = {
        "__class__": "exec",
        "__module__": "builtins",
        "__loader__": "LossNode",
        "__reduce__": {
            "args": {
                "__class__": "tuple",
                "__module__": "builtins",
                "__loader__": "TupleNode",
                "content": [_str(code, 1)],
                "__id__": 2,
            }
        },
        "content": {
            "__class__": "dict",
            "__module__": "builtins",
            "__loader__": "DictNode",
            "content": {},
            "key_types": {
                "__class__": "list",
                "__module__": "builtins",
                "__loader__": "ListNode",
                "content": [],
                "__id__": 3,
            },
            "__id__": 4,
        },
        "__id__": 5,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return path


class Marker:
    """A pickled object whose unpickling writes a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"__import__('pathlib').Path({self.marker!r}).write_text('pwned')",))
