"""The sanitizer imports nothing of Django or of the rest of the platform (ARCHITECTURE.md: pure engines)."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sanitize"
ALLOWED_THIRD_PARTY = {"PIL", "pikepdf", "oletools", "olefile", "lxml"}


def test_sanitize_imports_only_the_standard_library_and_its_parsers():
    stdlib = set(sys.stdlib_module_names)
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib | ALLOWED_THIRD_PARTY | {"__future__"}, f"{path.name} imports {name}"
