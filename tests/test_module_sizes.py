"""Small single-purpose modules: no Python module of fsbridge/ or tests/ is over 400 lines (issue #13 "Done
when"; the project brief's rule). Split an offender by concern rather than raising the limit."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 400


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:
        return sum(1 for _ in fh)


def test_no_module_is_over_400_lines():
    sizes = {p.relative_to(ROOT).as_posix(): _lines(p)
             for top in ("fsbridge", "tests") for p in sorted((ROOT / top).rglob("*.py"))}
    assert len(sizes) > 100, "the scan found too few modules"
    over = {path: n for path, n in sizes.items() if n > LIMIT}
    assert over == {}, f"modules over {LIMIT} lines (split them by concern): {over}"
