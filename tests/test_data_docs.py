"""docs/data.md: the "Bad input" example prints the error messages shown on the page.

(tests/test_docs.py runs every python block of the page on its own.)
"""

import contextlib
import io
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)


def test_bad_input_example_prints_the_documented_errors():
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(blocks("python")[-1], str(PAGE), "exec"), {"__name__": "__docs__"})
    assert output.getvalue().strip().splitlines() == blocks("text")[-1].strip().splitlines()
