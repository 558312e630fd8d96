"""checkstack.markdown: what the public pages and mails make of an operator's Markdown."""

from __future__ import annotations

from checkstack.markdown import render


def test_emphasis_lists_and_links_become_html() -> None:
    html = render("Jobs run **late**.\n\n- one\n- two\n\nSee [the runbook](https://example.com/r).")
    assert "<strong>late</strong>" in html
    assert "<li>one</li>" in html
    assert '<a href="https://example.com/r">the runbook</a>' in html


def test_a_single_newline_is_a_line_break() -> None:
    assert render("first\nsecond") == "<p>first<br />\nsecond</p>"


def test_raw_html_is_escaped() -> None:
    html = render('<script>alert(1)</script> <b onclick="x()">hi</b>')
    assert "<script>" not in html and "<b " not in html
    assert "&lt;script&gt;" in html


def test_unsafe_link_schemes_are_not_links() -> None:
    html = render("[click](javascript:alert(1)) [data](data:text/html,hi)")
    assert "href" not in html


def test_images_and_headings_stay_text() -> None:
    html = render("# Big\n\n![pixel](https://tracker.example/p.gif)")
    assert "<h1" not in html and "<img" not in html
    assert "# Big" in html


def test_no_text_is_empty() -> None:
    assert render(None) == "" and render("") == ""
