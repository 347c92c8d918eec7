"""The README and docs/ stay short and their relative links resolve (issue #34). No Spark."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

README_MAX_CHARS = 6_000
DOCS_MAX_BYTES = 70_000
DOC_FILE_MAX_BYTES = 20_000

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INDENTED_CODE = re.compile(r"^(?: {4}|\t).*$", re.M)
CODE_SPAN = re.compile(r"(`+).*?\1", re.S)
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative_links(text: str) -> list[str]:
    """Targets of inline Markdown links outside code, without their anchors; absolute URLs left out."""
    text = CODE_SPAN.sub("", INDENTED_CODE.sub("", FENCE.sub("", text)))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            continue
        path = target.split("#", 1)[0]
        if path:
            targets.append(path)
    return targets


def test_readme_is_at_most_6000_characters():
    assert len(README.read_text(encoding="utf-8")) <= README_MAX_CHARS


def test_docs_are_at_most_70_kb_in_all_and_20_kb_per_file():
    assert DOCS, "docs/*.md not found"
    sizes = {doc.name: doc.stat().st_size for doc in DOCS}
    assert sum(sizes.values()) <= DOCS_MAX_BYTES, sizes
    assert {name: size for name, size in sizes.items() if size > DOC_FILE_MAX_BYTES} == {}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(page):
    broken = [t for t in relative_links(page.read_text(encoding="utf-8")) if not (page.parent / t).exists()]
    assert broken == []


def test_link_finder_sees_links_and_skips_code():
    text = "[a](docs/x.md#y) [b](https://e.org) [c](#top) `[d](no.md)`\n```\n[e](no.md)\n```\n"
    assert relative_links(text) == ["docs/x.md"]
