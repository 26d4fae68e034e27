"""docs/reliability.md names only tests that exist: each fault it lists is really covered."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_reliability_doc_names_exists():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    sources = "\n".join(p.read_text() for folder in ("tests", "sim", "firmware/tests")
                        for p in (ROOT / folder).glob("*.[pc]*"))
    files = set(re.findall(r"`((?:tests|sim|firmware/tests)/[\w/]+\.(?:py|c|txt))", doc))
    names = set(re.findall(r"\b(test_\w+)\b(?!\.py)", doc)) - {Path(f).stem for f in files}
    assert len(files) >= 15 and len(names) >= 25
    for f in files:
        assert (ROOT / f).is_file(), f
    for name in names:
        assert re.search(rf"def {name}\b|void {name}\b", sources), name
