import os
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.loading import discover, load_document

from .conftest import STANDARD, WORLDVIEW


def test_title_line_and_outlet_are_read_from_the_text() -> None:
    doc = load_document(STANDARD)
    assert doc.title == "Trump Won\u2019t Be Able to Talk Putin Out of His Alliance with Iran"
    assert doc.outlet == "The Weekly Standard"
    assert doc.title_in_text


def test_sidecar_metadata_gives_a_title_to_a_file_without_one() -> None:
    doc = load_document(WORLDVIEW)
    assert not doc.title_in_text
    assert "Russia" in doc.title and "000_" not in doc.title
    assert doc.outlet and "Washington Post" in doc.outlet


def test_fallback_title_is_readable_text_not_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "a1b2c3.txt"
    path.write_text(
        "The council met on Tuesday to discuss the budget for the coming year.\n\n"
        "It agreed on nothing.\n",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert doc.title.startswith("The council met on Tuesday")
    assert "a1b2c3" not in doc.title


def test_content_hash_changes_with_the_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("Some text that is long enough to be a paragraph of its own.\n", "utf-8")
    before = load_document(path).content_hash
    (tmp_path / "doc.meta.toml").write_text('title = "A title"\n', "utf-8")
    after = load_document(path)
    assert after.content_hash != before
    assert after.title == "A title"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"  \n\n \t\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("caf\u00e9 cr\u00e8me".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_files_raise_a_clear_error_naming_the_file(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError) as info:
        load_document(path)
    assert reason in str(info.value)
    assert "bad.txt" in str(info.value)


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("text", "utf-8")
    path.chmod(0)
    try:
        import os

        if os.access(path, os.R_OK):  # root reads anything: use a directory named like a file
            path.chmod(0o644)
            path.unlink()
            path.mkdir()
        with pytest.raises(DocumentError) as info:
            load_document(path)
        assert "secret.txt" in str(info.value)
    finally:
        if path.is_file():
            path.chmod(0o644)


def test_discover_reports_missing_and_unsupported_paths(tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "ok.md").write_text("# Title\n\nBody text here.\n", "utf-8")
    (tmp_path / "ok.meta.toml").write_text('title = "x"\n', "utf-8")
    files, errors = discover([tmp_path, tmp_path / "missing.txt", tmp_path / "notes.pdf"])
    assert [f.name for f in files] == ["ok.md"]
    reasons = {Path(e.path).name: e.reason for e in errors}
    assert "no such file" in reasons["missing.txt"]
    assert "unsupported file type" in reasons["notes.pdf"]


def test_html_and_markdown_become_paragraphs(tmp_path: Path) -> None:
    html = tmp_path / "page.html"
    html.write_text(
        "<html><head><title>T</title><script>var x=1;</script></head><body>"
        "<h1>Big news</h1><p>First paragraph &amp; more.</p><p>Second one.</p></body></html>",
        "utf-8",
    )
    text = load_document(html).text
    assert "var x" not in text
    assert "First paragraph & more." in text.split("\n\n")
    md = tmp_path / "note.md"
    md.write_text("# Heading\n\nSome **bold** [link](http://example.invalid).\n", "utf-8")
    doc = load_document(md)
    assert doc.title == "Heading"
    assert "Some bold link." in doc.text


def test_links_out_of_the_corpus_folder_are_refused_and_reported(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "shadow.txt"
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n", "utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "real.txt").write_text("A real article paragraph.\n", "utf-8")
    (corpus / "shadow.txt").symlink_to(secret)
    (corpus / "inside.txt").symlink_to(corpus / "real.txt")
    (corpus / "sub" / "elsewhere").symlink_to(outside, target_is_directory=True)
    (corpus / "loop-a.txt").symlink_to(corpus / "loop-b.txt")
    (corpus / "loop-b.txt").symlink_to(corpus / "loop-a.txt")
    (corpus / "gone.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(corpus / "pipe.txt")

    files, errors = discover([corpus])

    assert sorted(f.name for f in files) == ["inside.txt", "real.txt"]
    assert all(secret.resolve() != f.resolve() for f in files)
    reasons = {Path(e.path).name: e.reason for e in errors}
    assert "outside the corpus folder" in reasons["shadow.txt"]
    assert "loop" in reasons["loop-a.txt"] and "loop" in reasons["loop-b.txt"]
    assert "target is missing" in reasons["gone.txt"]
    assert "not a regular file" in reasons["pipe.txt"]
