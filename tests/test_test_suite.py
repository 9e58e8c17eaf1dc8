"""The test suite's own rule: shared helpers live in tests/factories.py and tests/helpers.py (or fixtures), so no
test file imports a conftest or a test module (pytest may import those twice, and a change to one test then breaks
another's imports)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing file's package
                package = path.parent.relative_to(TESTS.parent).parts
                package = package[: len(package) - node.level + 1]
                names = [node.module] if node.module else [alias.name for alias in node.names]
                modules.update(".".join([*package, name]) for name in names)
            else:
                modules.add(node.module or "")
    return modules


def test_no_test_file_imports_a_conftest_or_a_test_module():
    offending = {
        str(path.relative_to(TESTS)): sorted(
            module
            for module in imported_modules(path)
            if module.split(".")[0] == "tests" and module.split(".")[-1].startswith(("conftest", "test_"))
        )
        for path in TESTS.rglob("*.py")
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}
