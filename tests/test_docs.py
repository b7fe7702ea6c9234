"""Every ``docs/…`` citation in the code resolves to a file and heading in the repository; no code cites notes
outside it; the in-page links of docs/ resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("uwl_utils", "benchmarks", "tests")
# "docs/attacks.md §ALMA prox weighting": the file, then optionally § and the start of a heading (may wrap lines).
CITATION = re.compile(r"docs/([\w./-]+?\.md)(?:[ \t]*(?:\n[ \t#]*)?§([^\n]*))?")
OUTSIDE = re.compile(r"reference/[a-z_]+\.md|DESIGN\.md|\bissue [0-9]+", re.IGNORECASE)


def _sources() -> list[Path]:
    return sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py") if p.resolve() != Path(__file__).resolve())


def _headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]


def _cites_heading(text: str, headings: list[str]) -> bool:
    """Whether ``text`` (what follows §) starts with a whole heading: "ALMA prox weighting)." cites
    "ALMA prox weighting", but "ALMA proxy" cites nothing."""
    return any(text.startswith(h) and not text[len(h) : len(h) + 1].isalnum() for h in headings)


def _citations() -> list[tuple[str, str, str | None]]:
    found = []
    for path in _sources():
        for match in CITATION.finditer(path.read_text()):
            found.append((str(path.relative_to(ROOT)), match.group(1), match.group(2)))
    return found


def test_the_code_cites_docs():
    cited = {doc for _, doc, _ in _citations()}
    assert {"attacks.md", "weightings.md", "metrics.md", "data_and_models.md"} <= cited


@pytest.mark.parametrize(("source", "doc", "section"), _citations())
def test_citation_resolves(source, doc, section):
    path = ROOT / "docs" / doc
    assert path.is_file(), f"{source} cites docs/{doc}, which does not exist"
    if section is not None:
        assert _cites_heading(section.strip(), _headings(path)), (
            f"{source} cites docs/{doc} §{section.strip()!r}, which starts with none of its headings"
        )


def test_no_code_cites_notes_outside_the_repository():
    offenders = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in _sources()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "cite docs/ in the repository or the paper instead:\n" + "\n".join(offenders)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation other than - dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_in_page_links_resolve(doc):
    anchors = {_slug(h) for h in _headings(doc)}
    links = re.findall(r"\]\(#([^)]+)\)", doc.read_text())
    assert set(links) <= anchors, f"{doc.name}: links without a heading: {sorted(set(links) - anchors)}"


def test_heading_match_is_whole_words():
    assert _cites_heading("ALMA prox weighting).", ["ALMA prox", "ALMA prox weighting"])
    assert _cites_heading("PGD, §Minimal-ε PGD).", ["PGD"])
    assert not _cites_heading("ALMA proxy", ["ALMA prox"])
    assert _slug("Minimal-ε PGD") == "minimal-ε-pgd" and _slug("ALMA prox: constraint") == "alma-prox-constraint"


def test_paths_named_in_docs_exist():
    """Every `path/…` in backticks in docs/ and the README names a file or folder of the repository (paths in the
    layer table are relative to uwl_utils/)."""
    pages = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    pattern = re.compile(r"`((?:uwl_utils|tests|benchmarks|data|notebooks|examples|docs)/[^`\s]*)`")
    missing = [
        f"{page.name}: {path}"
        for page in pages
        for path in pattern.findall(page.read_text())
        if not ((ROOT / path).exists() or (ROOT / "uwl_utils" / path).exists())
    ]
    assert not missing, "\n".join(missing)
