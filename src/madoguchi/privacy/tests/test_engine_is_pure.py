"""The engine imports nothing of Django or of the rest of the platform (ARCHITECTURE.md: pure engines)."""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
ALLOWED_THIRD_PARTY = {"numpy", "polars"}


def test_engine_imports_only_the_standard_library_numpy_and_polars():
    import sys

    stdlib = set(sys.stdlib_module_names)
    for path in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside the engine
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib | ALLOWED_THIRD_PARTY | {"__future__"}, f"{path.name} imports {name}"
