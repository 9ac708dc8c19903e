import hashlib
import os
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.index.loading import _html_blocks, content_hash, discover, load_document

from ..conftest import ROOT, STANDARD, WORLDVIEW


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


def test_a_first_line_that_is_not_the_sidecars_title_stays_a_paragraph(tmp_path: Path) -> None:
    """A saved page's first line ("Skip to content") looks like a title; the sidecar says what
    the title is, so that line is not cited as one. The same title on the first line is."""
    (tmp_path / "page.txt").write_text("Skip to content\n\nThe council met.\n", encoding="utf-8")
    (tmp_path / "page.meta.toml").write_text('title = "Council meets"\n', encoding="utf-8")
    (tmp_path / "same.txt").write_text("Council meets\n\nThe council met.\n", encoding="utf-8")
    (tmp_path / "same.meta.toml").write_text('title = "Council meets"\n', encoding="utf-8")
    page, same = load_document(tmp_path / "page.txt"), load_document(tmp_path / "same.txt")
    assert page.title == "Council meets" and not page.title_in_text
    assert same.title == "Council meets" and same.title_in_text


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
        (bytes(range(128, 256)) * 4, "not UTF-8"),
        (b"\xff\xfe" + b"\x00\xd8", "byte-order mark"),
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


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Windows export.\r\n\r\nSecond line.".encode("utf-16"), "Windows export."),
        ("\ufeffUTF-8 with a byte-order mark.".encode("utf-8"), "UTF-8 with a byte-order mark."),
        (
            "Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.".encode("latin-1"),
            "Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.",
        ),
        (
            "He said \u201cyes\u201d \u2013 for \u20ac5.".encode("cp1252"),
            "He said \u201cyes\u201d \u2013 for \u20ac5.",
        ),
        (
            "Это русский текст в старой кодировке Windows.".encode("cp1251"),
            "Это русский текст",
        ),
    ],
)
def test_other_encodings_are_read(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(content)
    assert expected in load_document(path).text
    assert "\r" not in load_document(path).text


def test_markdown_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    md = tmp_path / "story.md"
    md.write_text(
        "---\ntitle: 'Water systems: a story'\nsource_site: The Example\n"
        "published: '2026-08-06T00:00:00Z'\nsource_url: https://example.invalid/a\n---\n\n"
        "First paragraph.\n\n![A caption that repeats the text](https://img.invalid/x.jpg)\n\n"
        "## A subheading\n\n- item one\n- item two\n",
        "utf-8",
    )
    doc = load_document(md)
    assert (doc.title, doc.outlet, doc.date) == (
        "Water systems: a story",
        "The Example",
        "2026-08-06",
    )
    assert doc.url == "https://example.invalid/a"
    blocks = doc.text.split("\n\n")
    assert blocks[:3] == ["Water systems: a story", "First paragraph.", "A subheading"]
    assert "- item one" in blocks and "source_site" not in doc.text and "caption" not in doc.text


def test_list_items_keep_their_marker_in_markdown_and_plain_html(tmp_path: Path) -> None:
    """What a paragraph ending in a colon introduces is told by the markers (rag.text.introduces):
    tight and loose Markdown lists, and HTML read block by block, keep one per item."""
    md = tmp_path / "kinds.md"
    md.write_text(
        "Kinds:\n\n- A *timing* attack.\n- A power attack.\n\n1. first\n\n   more\n", "utf-8"
    )
    assert load_document(md).text.split("\n\n")[1:] == [
        "- A timing attack.",
        "- A power attack.",
        "- first",
        "more",
    ]
    html = "<ul><li></li></ul><p>Not an item.</p><ul><li><p>Item</p></li></ul>"
    assert _html_blocks(html)[0].split("\n\n") == ["Not an item.", "- Item"]
    page = tmp_path / "page.html"
    body = "An opening paragraph long enough for the extractor to take it as the article body."
    page.write_text(
        f"<html><body><article><p>{body}</p><p>There are kinds:</p><ul><li>A timing attack."
        "</li><li>A power attack.</li></ul><p>Then the article goes on for a while.</p>"
        "</article></body></html>",
        "utf-8",
    )
    assert "There are kinds:\n\n- A timing attack.\n\n- A power attack." in load_document(page).text


def test_a_saved_web_page_is_read_without_its_furniture() -> None:
    page = ROOT / "evals/corpus2/articles/tc-quantum-advantage.html"
    doc = load_document(page)
    assert doc.title.startswith("A scientist explains an approaching milestone")
    assert (doc.outlet, doc.date, doc.extra.get("author")) == (
        "Phys.org",
        "2023-11-20",
        "Daniel Lidar",
    )
    blocks = doc.text.split("\n\n")
    assert blocks[1] == "By Daniel Lidar"  # the page's author, whose byline was page furniture
    assert any(b.startswith("Central to quantum computing is the quantum bit") for b in blocks)
    for furniture in ("Explore further", "Sign up for our free newsletter", "Related", "Astronomy"):
        assert not any(furniture in b for b in blocks), furniture


def test_author_metadata_becomes_a_byline_unless_the_text_has_one(tmp_path: Path) -> None:
    """The author a sidecar, front matter or page metadata names is a "By ..." paragraph after
    the title (the first paragraph when there is no title); a text whose byline or author's note
    already names them is left as it is."""
    plain = tmp_path / "quake.txt"
    plain.write_text("Quake shakes the coast\n\nThe ground shook on Friday.\n", "utf-8")
    (tmp_path / "quake.meta.toml").write_text('author = "Lena Park; Omar Diaz"\n', "utf-8")
    assert load_document(plain).text.strip().split("\n\n")[:3] == [
        "Quake shakes the coast",
        "By Lena Park and Omar Diaz",
        "The ground shook on Friday.",
    ]
    untitled = tmp_path / "untitled.md"
    untitled.write_text("---\nauthor: Lena Park\n---\nthe ground shook on friday, and again.\n")
    assert load_document(untitled).text.split("\n\n")[0] == "By Lena Park"
    noted = tmp_path / "noted.md"
    noted.write_text(
        "---\nauthor: Lena Park\n---\n# Quake\n\nThe ground shook.\n\n"
        "Lena Park is a science writer at the Coast Courier.\n", "utf-8",
    )  # fmt: skip
    assert "By Lena Park" not in load_document(noted).text


def _discover_without_privilege(folder: Path) -> dict[str, object]:
    """``discover(folder)`` in a child process that permissions apply to. Root reads every
    folder, so when the suite runs as root (CI does) the child drops the two capabilities that
    let it (``setpriv``, util-linux): it stays uid 0, so the interpreter under /root still runs,
    but a folder with mode 000 is closed to it as to any user."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    code = (
        "import json, sys; from pathlib import Path; from rag.index.loading import discover; "
        "files, errors = discover([Path(sys.argv[1])]); "
        "print(json.dumps({'files': [str(f) for f in files], "
        "'errors': {e.path: e.reason for e in errors}}))"
    )
    command = [sys.executable, "-c", code, str(folder)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux): cannot give up root's reads")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    root = ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_unreadable_folder_is_reported_not_skipped_silently(tmp_path: Path) -> None:
    (tmp_path / "open.txt").write_text("A readable article paragraph.\n", "utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_text("Closed to this process.\n", "utf-8")
    locked.chmod(0)
    try:
        result = _discover_without_privilege(tmp_path)
    finally:
        locked.chmod(0o755)
    assert result["files"] == [str(tmp_path / "open.txt")]
    errors = result["errors"]
    assert isinstance(errors, dict) and set(errors) == {str(locked)}
    assert "cannot be read" in errors[str(locked)] and "permissions" in errors[str(locked)]


def test_content_hash_is_load_documents_without_parsing(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nA paragraph about the port of Bandar Abbas.\n", encoding="utf-8")
    assert content_hash(page) == load_document(page).content_hash
    (tmp_path / "page.meta.toml").write_text('outlet = "Reuters"\n', encoding="utf-8")
    with_meta = content_hash(page)
    assert with_meta == load_document(page).content_hash
    assert with_meta != hashlib.sha256(page.read_bytes() + b"\x00").hexdigest()
    (tmp_path / "page.meta.toml").write_text("outlet = [", encoding="utf-8")
    with pytest.raises(DocumentError, match="page.meta.toml.*not valid TOML"):
        content_hash(page)


def test_the_headings_a_file_marks_are_known_whatever_their_punctuation(tmp_path: Path) -> None:
    """A heading that ends with a question mark looks like a sentence to the punctuation test
    (``rag.text.is_heading``); Markdown and HTML say what it is. Plain text says nothing."""
    md = tmp_path / "faq.md"
    md.write_text(
        "# The guide\n\nAn opening paragraph.\n\n## Why does it *matter*?\n\nBecause it does.\n",
        "utf-8",
    )
    assert load_document(md).headings == {"The guide", "Why does it matter?"}
    body = "An opening paragraph long enough for the extractor to take it as the article body."
    page = tmp_path / "page.html"
    page.write_text(
        f"<html><body><article><h1>A page</h1><p>{body}</p><h2>So where do we go from here?"
        f"</h2><p>{body} It goes on.</p></article></body></html>",
        "utf-8",
    )
    doc = load_document(page)
    assert "So where do we go from here?" in doc.headings
    assert "So where do we go from here?" in doc.text.split("\n\n")
    assert _html_blocks("<h3>Is it?</h3><p>Yes.</p>") == ("Is it?\n\nYes.", {"Is it?"})
    plain = tmp_path / "plain.txt"
    plain.write_text("A title\n\n## Why does it matter?\n\nBecause.\n", "utf-8")
    assert load_document(plain).headings == frozenset()
