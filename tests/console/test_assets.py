"""The console's files themselves: what the page may never do (parse strings as HTML, run
inline code, reach another host), that every import resolves, that the wheel ships every file,
the data-testid hooks, and the vendored Markdown lexer's version."""

import fnmatch
import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from simplechat.console.router import ASSETS, CONTENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
OWN_SCRIPTS = sorted((ASSETS / "js").glob("*.js"))
ALL_FILES = sorted(p for p in ASSETS.rglob("*") if p.is_file())
MARKED = ASSETS / "vendor" / "marked.esm.js"
# marked 18.2.1 from the npm registry, its `//# sourceMappingURL` line removed (the map is not
# shipped, and a browser's developer tools would ask for it).
MARKED_SHA256 = "c622dc6824a1c92c2d10ea9ede2fc872e46128afcc34b298e6ddee6f387ace8e"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
# Ways a string becomes markup, code or inline style.
UNSAFE = {
    "innerHTML": re.compile(r"\.innerHTML\b"),
    "outerHTML": re.compile(r"\.outerHTML\b"),
    "insertAdjacentHTML": re.compile(r"insertAdjacentHTML"),
    "document.write": re.compile(r"document\.write"),
    "eval": re.compile(r"\beval\s*\("),
    "Function constructor": re.compile(r"new\s+Function\s*\("),
    "string timer": re.compile(r"set(Timeout|Interval)\(\s*['\"`]"),
    "createContextualFragment": re.compile(r"createContextualFragment"),
    "DOMParser": re.compile(r"DOMParser"),
    "inline style": re.compile(r"\.style\b|setAttribute\(\s*['\"]style"),
    "a token in a URL": re.compile(r"access_token=|refresh_token="),
    "console logging": re.compile(r"\bconsole\.(log|info|debug|warn|error)\b"),
}
# The hooks issue 28 names, each given as `testid: '<name>'` where its element is made.
TEST_IDS = [
    *("login-username", "login-password", "login-submit", "signup-link", "chat-input"),
    *("chat-send", "chat-stop", "message", "conversation-item", "model-select", "nav-chat"),
    *("nav-account", "nav-admin", "key-create", "key-name", "key-secret", "admin-users-row"),
    "logout",
]
COMMENT_LINE = re.compile(r"^\s*//.*$", re.MULTILINE)
IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]+?\s+from\s+)?['"]([^'"]+)['"]""", re.MULTILINE)


@pytest.mark.parametrize("script", OWN_SCRIPTS, ids=lambda p: p.name)
def test_no_script_turns_a_string_into_markup_or_code(script: Path) -> None:
    text = COMMENT_LINE.sub("", script.read_text(encoding="utf-8"))  # comments may name them
    found = [name for name, pattern in UNSAFE.items() if pattern.search(text)]
    assert found == [], f"{script.name} uses {found}"


def test_the_vendored_lexer_touches_no_page_and_no_network() -> None:
    text = MARKED.read_text(encoding="utf-8")
    for word in ("innerHTML", "document.", "fetch(", "XMLHttpRequest", "WebSocket", "import("):
        assert word not in text, word


def test_the_vendored_lexer_is_marked_18_2_1() -> None:
    data = MARKED.read_bytes()
    assert data.startswith(b"/**\n * marked v18.2.1 - a markdown parser")
    assert hashlib.sha256(data).hexdigest() == MARKED_SHA256
    assert b"sourceMappingURL" not in data
    assert "MIT" in (ASSETS / "vendor" / "marked-LICENSE.txt").read_text(encoding="utf-8")


def test_the_page_runs_no_inline_code_and_no_inline_style() -> None:
    page = (ASSETS / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.DOTALL | re.IGNORECASE)
    assert scripts
    for attributes, body in scripts:
        assert 'src="assets/' in attributes
        assert body.strip() == ""
    assert not re.search(r"\son[a-z]+\s*=", page, re.IGNORECASE)
    assert not re.search(r"\sstyle\s*=", page, re.IGNORECASE)
    assert "<style" not in page.lower()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(ASSETS)))
def test_no_file_names_another_host(path: Path) -> None:
    if path.suffix == ".txt":
        return  # the vendored library's license
    text = path.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")
    if path == MARKED:  # its banner comment, and a scheme it recognises in autolinks
        text = text.replace("https://github.com/markedjs/marked", "").replace('"http://"', "")
    assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE) == []


@pytest.mark.parametrize("script", [*OWN_SCRIPTS], ids=lambda p: p.name)
def test_every_import_resolves_to_a_shipped_file(script: Path) -> None:
    for target in IMPORT.findall(script.read_text(encoding="utf-8")):
        assert target.startswith("./") or target.startswith("../"), target
        assert (script.parent / target).resolve().is_file(), f"{script.name}: {target}"


def test_the_wheel_ships_every_file_of_the_console() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["simplechat.console"]
    for path in ALL_FILES:
        name = path.relative_to(ASSETS.parent).as_posix()
        assert any(fnmatch.fnmatchcase(name, p) for p in patterns), f"{name} is not shipped"
        assert path.suffix in CONTENT_TYPES, f"{name} would not be served"


def test_the_hooks_of_the_issue_are_all_there() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in OWN_SCRIPTS)
    written = {
        *re.findall(r"testid: '([a-z-]+)'", source),
        *(f"nav-{view}" for view in re.findall(r"nav\('([a-z]+)'", source)),  # nav-${name}
    }
    assert sorted(set(TEST_IDS) - written) == []
    assert "'data-role': message.role" in source
