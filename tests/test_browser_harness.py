"""The browser harness can fail: it sees console errors, page errors and requests, and
reads a clean page back. The pages are written here; the browser is Debian's Chromium."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tests.browser
from tests.browser import OpenedPage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OpenPage = Callable[..., OpenedPage]


def html(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(f'<!doctype html>\n<html lang="vi"><head><meta charset="utf-8">'
                    f"<title>Thử</title></head>\n<body>{body}</body></html>\n",
                    encoding="utf-8")
    return path


def test_console_error_and_page_error_are_recorded(tmp_path: Path,
                                                   browser_page: OpenPage) -> None:
    opened = browser_page(html(tmp_path, "<script>console.error('thiếu số liệu');"
                                         "console.log('only a log');</script>"
                                         "<script>null.x;</script>"))
    assert len(opened.console_errors) == 1
    assert opened.console_errors[0].startswith("thiếu số liệu (file://")
    assert len(opened.page_errors) == 1
    assert "null" in opened.page_errors[0]
    assert opened.requests == []
    assert len(opened.errors) == 2


def test_an_error_after_load_is_recorded(tmp_path: Path, browser_page: OpenPage) -> None:
    opened = browser_page(html(tmp_path, "<script>setTimeout(() => { throw new "
                                         "Error('muộn'); }, 50);</script>"))
    opened.page.wait_for_timeout(300)
    assert opened.page_errors == ["muộn"]


def test_a_request_off_the_page_is_recorded_and_blocked(tmp_path: Path,
                                                        browser_page: OpenPage) -> None:
    (tmp_path / "side.css").write_text("p { color: red }", encoding="utf-8")
    started = time.monotonic()
    opened = browser_page(html(tmp_path, '<link rel="stylesheet" href="side.css">'
                                         '<img id="x" src="https://example.com/x.png">'))
    assert time.monotonic() - started < 10  # blocked, not waited for
    assert opened.requests == [(tmp_path / "side.css").as_uri(),
                               "https://example.com/x.png"]
    assert opened.page.eval_on_selector("#x", "img => img.naturalWidth") == 0
    assert any("ERR_BLOCKED_BY_CLIENT" in e for e in opened.console_errors)


def test_fetch_and_websocket_are_recorded(tmp_path: Path, browser_page: OpenPage) -> None:
    opened = browser_page(html(tmp_path, "<script>fetch('http://127.0.0.1:9/api')"
                                         ".catch(() => {}); new WebSocket("
                                         "'ws://127.0.0.1:9/live');</script>"))
    opened.page.wait_for_timeout(200)
    assert sorted(opened.requests) == ["http://127.0.0.1:9/api", "ws://127.0.0.1:9/live"]


def test_a_clean_page_reads_back_with_no_errors_and_a_screenshot(
        tmp_path: Path, browser_page: OpenPage) -> None:
    table = ("<table><thead><tr><th>Mã</th><th>Đơn vị</th><th>Điểm</th></tr></thead>"
             "<tbody><tr><td>01</td><td>Phường Bình Đức</td><td>87,50</td></tr>"
             "<tr><td>30292</td><td>Xã Hòn Đất</td><td></td></tr></tbody></table>")
    opened = browser_page(html(tmp_path, table, name="bảng điểm.html"))
    rows = opened.page.eval_on_selector_all(
        "table tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert rows == [["Mã", "Đơn vị", "Điểm"], ["01", "Phường Bình Đức", "87,50"],
                    ["30292", "Xã Hòn Đất", ""]]
    assert opened.page.title() == "Thử"
    assert opened.errors == []
    assert opened.requests == []
    shot = opened.screenshot("harness_clean_table")
    assert shot == Path(tests.browser.__file__).parent / "artifacts" / "harness_clean_table.png"
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    assert shot.stat().st_size > 1000


def test_screenshot_names_stay_in_the_artifacts_folder(tmp_path: Path,
                                                       browser_page: OpenPage) -> None:
    opened = browser_page(html(tmp_path, "<p>x</p>"))
    with pytest.raises(ValueError, match="screenshot name"):
        opened.screenshot("../outside")


def test_missing_chromium_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(tests.browser, "CHROMIUM", tmp_path / "no-chromium")
    assert "make browser" in tests.browser.chromium_missing()
