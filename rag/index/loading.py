"""Read corpus files into ``Document`` objects: text plus what is known about the document.

One reader per file format (plain text, Markdown, HTML) turns a decoded file into
paragraph-separated text plus the metadata the file carries itself (Markdown front matter, a web
page's meta tags); everything after that (units, ids, headlines) is format-independent. A
document's title, outlet, date and URL come from an optional sidecar ``NAME.meta.toml`` beside the
file, then from the file's own metadata, then from a title line at the top of the text, and last
from the opening words of the text, never from the file name.

    >>> doc = load_document(Path("seeds/001_0479f5dab17c5578.txt"))
    >>> doc.title
    'Trump Won’t Be Able to Talk Putin Out of His Alliance with Iran'
"""

from __future__ import annotations

import errno
import functools
import hashlib
import html.parser
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

import yaml
from markdown_it import MarkdownIt

from rag.errors import DocumentError
from rag.text import credits_document, has_words, normalize, split_sentences

SIDECAR_SUFFIX = ".meta.toml"
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    """A corpus file read into text, with its metadata and a hash of everything it came from."""

    source: str
    text: str
    title: str
    outlet: str | None = None
    date: str | None = None
    url: str | None = None
    title_in_text: bool = False
    content_hash: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    #: The paragraphs the file itself marks as headings (Markdown ``#``, HTML ``<h1>``-``<h6>``),
    #: normalised (``rag.text.normalize``); a plain text file marks none.
    headings: frozenset[str] = frozenset()


# --- readers: decoded file -> text with blank lines between paragraphs, embedded metadata, and
# --- the paragraphs the format marks as headings ---

Metadata = dict[str, str]


class Read(NamedTuple):
    """What a format's reader makes of a decoded file, before sidecars and titles are applied."""

    text: str
    meta: Metadata
    #: Heading paragraphs as the file marks them, normalised. Why keep them: a heading that ends
    #: with a question mark ("So where do we go from here?") looks like a sentence to the
    #: punctuation test of ``rag.text.is_heading``, yet it heads the section that answers it.
    headings: frozenset[str] = frozenset()


def _read_plain(raw: str) -> Read:
    return Read(raw, {})


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)

# Front-matter keys that name the same thing differently (Jekyll, Hugo, scrapers' exports).
_FRONT_MATTER_KEYS = {
    "title": "title",
    "source_site": "outlet",
    "site": "outlet",
    "outlet": "outlet",
    "publisher": "outlet",
    "published": "date",
    "date": "date",
    "source_url": "url",
    "url": "url",
    "author": "author",
}


def _front_matter(raw: str) -> tuple[str, Metadata]:
    """Split YAML front matter from a Markdown body, so its keys are metadata and never units."""
    match = _FRONT_MATTER.match(raw)
    if not match:
        return raw, {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return raw, {}
    if not isinstance(data, dict):
        return raw, {}
    meta: Metadata = {}
    for key, value in data.items():
        name = _FRONT_MATTER_KEYS.get(str(key).lower())
        if name and name not in meta and isinstance(value, str | int | float | date):
            meta[name] = str(value).strip()
    if "date" in meta:
        meta["date"] = meta["date"][:10]
    return raw[match.end() :], meta


def _read_markdown(raw: str) -> Read:
    """CommonMark via markdown-it-py, then the HTML block reader: images and their alt text
    are dropped (a caption repeating a paragraph would compete with it for citations)."""
    body, meta = _front_matter(raw)
    text, headings = _html_blocks(MarkdownIt("commonmark").render(body))
    return Read(text, meta, headings)


class _HTMLText(html.parser.HTMLParser):
    _BLOCKS = {
        "p",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "br",
        "tr",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "title",
    }
    _SKIP = {"script", "style", "noscript", "template"}
    _HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.headings: list[str] = []
        self._skipping = 0
        self._item = False
        self._heading_from: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")
            if tag in self._HEADINGS:
                self._heading_from = len(self.parts)
            # A list item keeps its marker, as trafilatura writes one: what a paragraph ending
            # in a colon introduces is the list that follows (rag.text.introduces).
            self._item = self._item or tag == "li"

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCKS:
            if tag in self._HEADINGS and self._heading_from is not None:
                self.headings.append("".join(self.parts[self._heading_from :]))
                self._heading_from = None
            self.parts.append("\n\n")
            self._item = self._item and tag != "li"

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if self._item and text.strip():
            self.parts.append("- " + text.lstrip())
            self._item = False
        else:
            self.parts.append(text)


def _html_blocks(raw: str) -> tuple[str, frozenset[str]]:
    """Every block of an HTML document as a paragraph (no main-content detection), and the
    headings among them."""
    parser = _HTMLText()
    parser.feed(raw)
    paragraphs = (p.strip() for p in "".join(parser.parts).split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p), _normalized(parser.headings)


def _normalized(headings: Iterable[str]) -> frozenset[str]:
    return frozenset(n for n in (normalize(h) for h in headings) if n)


def _read_html(raw: str) -> Read:
    """The article a saved web page carries, without its navigation, related links, comments
    and footer: trafilatura's main-content extraction, which a hand-written parser cannot match
    on pages it has never seen. A page it finds no article in is read whole, block by block.

    One parse gives the text, the page's metadata and its headings (the ``head`` elements of
    the extracted tree, which the plain text no longer marks)."""
    from trafilatura import bare_extraction
    from trafilatura.settings import Document as Extracted

    found = bare_extraction(raw, include_comments=False, include_tables=True, with_metadata=True)
    text = found.text if isinstance(found, Extracted) else None
    if not isinstance(found, Extracted) or not text or not text.strip():
        whole, headings = _html_blocks(raw)
        return Read(whole, {}, headings)
    meta: Metadata = {}
    for key, value in (
        ("title", found.title),
        ("outlet", found.sitename),
        ("date", found.date),
        ("url", found.url),
        ("author", found.author),
    ):
        if value:
            meta[key] = str(value).strip()
    paragraphs = [line.strip() for line in text.split("\n") if line.strip()]
    body = found.body
    marked = [] if body is None else ["".join(h.itertext()) for h in body.iter("head")]
    return Read("\n\n".join(paragraphs), meta, _normalized(marked))


READERS: dict[str, Callable[[str], Read]] = {
    ".txt": _read_plain,
    ".text": _read_plain,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in READERS and not path.name.endswith(SIDECAR_SUFFIX)


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[DocumentError]]:
    """Expand folders into the corpus files they hold (sorted, hidden files skipped).

    Only regular files inside a folder the user gave are read: a symbolic link is followed only
    when its target stays inside that folder; a link out of it, a link loop, a dangling link,
    a FIFO or a device is reported, never read. A path that does not exist or has an unsupported
    format is returned as an error rather than raised, so one bad argument never stops the rest
    of an ingest.
    """
    files: list[Path] = []
    errors: list[DocumentError] = []
    for path in paths:
        if path.is_dir():
            found, problems = _walk(path)
            files += found
            errors += problems
        elif path.is_file():
            if is_supported(path):
                files.append(path)
            else:
                errors.append(DocumentError(str(path), _unsupported(path)))
        elif path.is_symlink():
            errors.append(DocumentError(str(path), "is a broken or looping symbolic link"))
        else:
            errors.append(DocumentError(str(path), "no such file or folder; check the path"))
    return files, errors


def _walk(folder: Path) -> tuple[list[Path], list[DocumentError]]:
    """The corpus files below ``folder``, and why anything else below it is not read.

    ``os.walk`` rather than ``Path.rglob``: rglob skips a folder it may not list without a
    word, so an unreadable folder's files would vanish from the index silently."""
    root = folder.resolve()
    files: list[Path] = []
    errors: list[DocumentError] = []

    def unreadable(exc: OSError) -> None:
        errors.append(DocumentError(
            str(exc.filename or folder),
            f"folder cannot be read ({exc.strerror or exc}); nothing in it is indexed: check "
            "its permissions",
        ))  # fmt: skip

    for top, dirs, names in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(dirs + [n for n in names if not n.startswith(".")]):
            child = Path(top) / name
            if not is_supported(child):
                linked = _linked_folder(child, root) if child.is_symlink() else None
                if linked:
                    errors.append(DocumentError(str(child), linked))
                continue
            problem = _outside_or_special(child, root)
            if problem:
                errors.append(DocumentError(str(child), problem))
            elif child.is_file():
                files.append(child)
    return sorted(files), errors


def _link_target(link: Path) -> Path | str:
    """Where a symbolic link leads, or "loop" / "missing" when it leads nowhere."""
    try:
        return link.resolve(strict=True)
    except RuntimeError:
        return "loop"
    except OSError as exc:
        return "loop" if exc.errno == errno.ELOOP else "missing"


def _linked_folder(child: Path, root: Path) -> str | None:
    """Why a symbolic link to a folder is not followed (``rglob`` never descends into one; the
    report says so instead of staying silent), or None for a link to an unsupported file."""
    target = _link_target(child)
    if target == "loop":
        return "is a symbolic link loop; not followed"
    if not isinstance(target, Path) or not target.is_dir():
        return None
    if target.is_relative_to(root) or root.is_relative_to(target):
        return "is a link to a folder already in the corpus (a loop); not followed"
    return (
        f"is a link to the folder {target}, outside the corpus folder {root}; not followed "
        "(add that folder to the corpus if it belongs there)"
    )


def _outside_or_special(child: Path, root: Path) -> str | None:
    """Why ``child`` (found below ``root``) must not be read, or None when it may."""
    if child.is_symlink():
        target = _link_target(child)
        if target == "loop":
            return "is a symbolic link loop; not indexed"
        if not isinstance(target, Path):
            return "is a symbolic link to nothing (its target is missing); not indexed"
        if not target.is_relative_to(root):
            return (
                f"is a symbolic link to {target}, outside the corpus folder {root}; not indexed "
                "(copy the file into the folder if it belongs to the corpus)"
            )
    try:
        mode = os.stat(child).st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc}); check permissions"
    if stat.S_ISDIR(mode):
        return None
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device); not indexed"
    return None


def _unsupported(path: Path) -> str:
    known = ", ".join(sorted(READERS))
    return f"unsupported file type {path.suffix or '(none)'!r}; supported: {known}"


def source_name(path: Path) -> str:
    """How a file is named in citations: relative to the working directory when it is below it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(_resolved(os.getcwd())).as_posix()
    except ValueError:
        return resolved.as_posix()


@functools.lru_cache(maxsize=8)
def _resolved(folder: str) -> Path:
    """The working directory resolved once per directory, not once per file (half of naming
    the 4,364 files of a 100k-unit corpus went to resolving it again each time)."""
    return Path(folder).resolve()


def content_hash(path: Path, name: str | None = None) -> str:
    """The ``content_hash`` that ``load_document`` gives the file: a hash of its bytes and its
    metadata file's, read but not decoded or parsed. How an ingest passes over an unchanged file
    cheaply: at 100k units, decoding, extracting and normalising the 4,364 unchanged files to
    find the one added cost 0.7 s of the 1.0 s spent reading them. ``name``: the file's
    ``source_name``, when the caller has it."""
    return _digest(_read_bytes(path, name or source_name(path)), _read_sidecar(path)[1])


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        reason = f"cannot be read ({exc.strerror or exc}); check permissions"
        raise DocumentError(name, reason) from None
    if len(raw_bytes) > MAX_FILE_BYTES:
        raise DocumentError(name, f"larger than {MAX_FILE_BYTES // 2**20} MiB; split it first")
    return raw_bytes


def _digest(raw_bytes: bytes, meta_bytes: bytes) -> str:
    return hashlib.sha256(raw_bytes + b"\x00" + meta_bytes).hexdigest()


def load_document(path: Path) -> Document:
    """Read one corpus file; raise ``DocumentError`` naming the file and what to do."""
    name = source_name(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DocumentError(name, _unsupported(path))
    raw_bytes = _read_bytes(path, name)
    raw = _decode(raw_bytes, name)
    text, embedded, headings = reader(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not has_words(text):
        raise DocumentError(name, "is empty (no text to index: not a letter or a digit in it)")
    sidecar, meta_bytes = _read_sidecar(path)
    meta = {**embedded, **sidecar}
    digest = _digest(raw_bytes, meta_bytes)
    title_line = _title_line(text)
    title, outlet = meta.get("title"), meta.get("outlet")
    if title and "title" in embedded and normalize(title) != normalize(title_line or ""):
        text, title_line = f"{title}\n\n{text}", title
    elif title_line and not title:
        title, parsed_outlet = _split_outlet(title_line)
        outlet = outlet or parsed_outlet
    elif (
        title
        and title_line
        and normalize(title)
        not in {
            normalize(title_line),
            normalize(_split_outlet(title_line)[0]),
        }
    ):
        # The sidecar names the title and the first line is something else that merely looks
        # like one (a saved page's "Skip to content"): it stays a paragraph.
        title_line = None
    author = meta.get("author")
    if author and not _credited(text, author):
        text = _with_byline(text, author, after_title=title_line is not None)
    return Document(
        source=name,
        text=text,
        title=title or _fallback_title(text),
        outlet=outlet,
        date=meta.get("date"),
        url=meta.get("url"),
        title_in_text=title_line is not None,
        content_hash=digest,
        extra={k: v for k, v in meta.items() if k not in {"title", "outlet", "date", "url"}},
        headings=headings,
    )


def _credited(text: str, author: str) -> bool:
    """A byline or credit line of the text already names the author."""
    name = normalize(author).lower()
    return any(
        credits_document(s.text) and name in normalize(s.text).lower()
        for paragraph in text.split("\n\n")
        if name in normalize(paragraph).lower()  # only paragraphs that name them are split
        for s in split_sentences(paragraph)
    )


def _with_byline(text: str, author: str, *, after_title: bool) -> str:
    """The text with a "By AUTHOR" paragraph where a byline stands, after the title.

    Why: a page's author is metadata (an HTML meta tag, front matter, a sidecar's ``author``)
    and its visible byline is dropped with the page furniture, so "who wrote it?" had nothing to
    quote. As a paragraph it is a citable unit the answerer reads like any printed byline, as a
    title from the metadata is a citable title. Several authors ("A; B") read "By A and B"."""
    names = [n.strip() for n in re.split(r"\s*;\s*", author) if n.strip()]
    shown = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    if not after_title:
        return f"By {shown}\n\n{text}"
    title, _, rest = text.lstrip("\n").partition("\n\n")
    return f"{title}\n\nBy {shown}\n\n{rest}"


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _decode(raw_bytes: bytes, name: str) -> str:
    """Text from a file's bytes: a byte-order mark decides (UTF-8, UTF-16 and UTF-32, what
    Windows tools write), then strict UTF-8, then a legacy 8-bit encoding.

    charset-normalizer alone misreads short Western text (it took "crème" in Latin-1 for Baltic
    "crčme"), so its guess is kept only when it reads the bytes as a non-Latin script
    (Cyrillic, Greek, ...); Latin-script text is read as Windows-1252, which covers Latin-1's
    letters and the typographic quotes and dashes news text uses. Bytes that are neither are
    refused with what to do.
    """
    for bom, encoding in _BOMS:
        if raw_bytes.startswith(bom):
            try:
                return raw_bytes.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DocumentError(
                    name,
                    f"starts with a {encoding} byte-order mark but is not valid {encoding} "
                    f"(bad bytes at offset {exc.start}); re-save it as UTF-8",
                ) from None
    if b"\x00" in raw_bytes:
        raise DocumentError(name, "looks binary (contains NUL bytes); only text files are indexed")
    try:
        return raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
    from charset_normalizer import from_bytes

    best = from_bytes(raw_bytes).best()
    if best is not None and best.chaos <= _MAX_CHAOS:
        guess = str(best)
        if not _mostly_latin(guess):
            return guess
        try:
            return raw_bytes.decode("cp1252")
        except UnicodeDecodeError:
            return guess
    raise DocumentError(
        name,
        f"is not UTF-8 (invalid byte at offset {offset}) and its encoding could not be "
        "recognised with confidence; re-save it as UTF-8",
    )


# charset-normalizer's own default: it reports no guess whose "mess" ratio exceeds 0.2.
_MAX_CHAOS = 0.2


def _mostly_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if c.isascii() or "LATIN" in unicodedata.name(c, ""))
    return not letters or latin / len(letters) >= 0.5


def _read_sidecar(path: Path) -> tuple[dict[str, str], bytes]:
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}, b""
    raw = sidecar.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DocumentError(
            source_name(sidecar), f"metadata file is not valid TOML ({exc}); fix or remove it"
        ) from None
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}, raw


_SENTENCE_END = re.compile(r"[.!?:;,]\s*$")


def _title_line(text: str) -> str | None:
    """The first line, when it reads as a title: short, unpunctuated, followed by more text."""
    lines = text.strip().split("\n")
    first = lines[0].strip()
    if len(lines) < 2 or not has_words(first) or len(first) > 200 or _SENTENCE_END.search(first):
        return None
    if first.startswith(("-", "*", "•")):
        return None
    return first


def _split_outlet(line: str) -> tuple[str, str | None]:
    """ "Headline – The Weekly Standard" -> ("Headline", "The Weekly Standard")."""
    match = re.match(r"^(.*\S)\s+[-\u2013\u2014|]\s+([A-Z][^-\u2013\u2014|]{1,60})$", line)
    if match and len(match.group(2).split()) <= 6:
        return match.group(1), match.group(2).strip()
    return line, None


def _fallback_title(text: str, limit: int = 80) -> str:
    """A readable stand-in title: the opening words of the first substantial paragraph."""
    paragraphs = [normalize(p) for p in re.split(r"\n", text) if has_words(p)]
    first = next((p for p in paragraphs if len(p.split()) >= 8), paragraphs[0])
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"
