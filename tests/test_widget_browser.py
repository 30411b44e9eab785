"""The widget in a real browser (Debian's Chromium driven by Playwright) against the real service.

Screenshots go to test-artifacts/."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from servers import chromium, corpus_service, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = needs_chromium()


@pytest.fixture(scope="module")
def service(corpus_index, real_embedder, tmp_path_factory):
    with corpus_service(corpus_index, real_embedder, tmp_path_factory.mktemp("browser") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open_widget_by_keyboard(page) -> None:
    launcher = page.locator("#provider-assistant button.launcher")
    launcher.focus()
    page.keyboard.press("Enter")
    page.locator("#provider-assistant textarea").wait_for(state="visible")


def _ask(page, question: str):
    box = page.locator("#provider-assistant textarea")
    box.fill(question)
    box.press("Enter")
    bubble = page.locator("#provider-assistant .msg.bot").last
    bubble.locator(".actions").wait_for(timeout=30000)  # feedback row: the answer has finished
    return bubble


def test_ask_cite_call_and_rate_in_the_widget(service, browser):
    base, settings = service
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/")
    _open_widget_by_keyboard(page)
    assert page.evaluate("document.activeElement.id") == "provider-assistant"  # focus is inside the widget
    bubble = _ask(page, "who do I call about my rights under the agreement?")
    assert "503-813-3376" in bubble.inner_text()
    chip = bubble.locator("a.chip").first
    assert chip.is_visible()
    tel = bubble.locator('a[href^="tel:"]')
    assert tel.count() >= 1 and "5038133376" in tel.first.get_attribute("href")
    page.screenshot(path=str(ARTIFACTS / "widget-answer.png"))

    href = chip.get_attribute("href")
    with context.expect_page() as opened:
        chip.click()
    doc = opened.value
    doc.wait_for_load_state()
    assert doc.url == href and "/docs/" in doc.url
    if "#page=" in href:
        page_number = int(href.rsplit("#page=", 1)[1])
        assert page_number >= 1 and doc.url.endswith(f"#page={page_number}")
    doc.close()

    bubble.locator('button[data-rating="up"]').click()
    page.wait_for_function("() => document.querySelector('#provider-assistant').shadowRoot"
                           ".querySelector('.actions[data-sent=up]') !== null")
    stored = sqlite3.connect(settings.data_dir / "conversations.sqlite3").execute(
        "SELECT rating FROM feedback").fetchall()
    assert ("up",) in stored

    page.keyboard.press("Escape")
    assert page.locator("#provider-assistant .panel").is_hidden()
    context.close()


def test_markup_in_questions_and_answers_stays_inert_and_the_conversation_survives_reload(service, browser):
    base, _ = service
    context = browser.new_context(viewport={"width": 390, "height": 844})  # phone width
    page = context.new_page()
    page.goto(base + "/")
    _open_widget_by_keyboard(page)
    payload = '<img src=x onerror="window.__xss=1"> how long do I have to file a claim?'
    _ask(page, payload)
    user = page.locator("#provider-assistant .msg.user").last
    assert "<img src=x" in user.inner_text()
    assert page.locator("#provider-assistant img").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(ARTIFACTS / "widget-phone-xss.png"))

    page.reload()
    _open_widget_by_keyboard(page)
    page.locator("#provider-assistant .msg.bot").first.wait_for()
    assert "how long do I have to file a claim?" in page.locator("#provider-assistant .log").inner_text()
    assert page.evaluate("window.__xss") is None
    context.close()


def test_urgent_answers_are_marked(service, browser):
    base, _ = service
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/")
    _open_widget_by_keyboard(page)
    bubble = _ask(page, "a member died unexpectedly after surgery at our hospital, what do we do")
    assert "urgent" in (bubble.get_attribute("class") or "")
    assert bubble.locator(".badge").inner_text().startswith("Urgent")
    page.screenshot(path=str(ARTIFACTS / "widget-urgent.png"))
    context.close()


def test_escalate_from_the_widget_resolve_in_staff_and_get_the_approved_answer(service, browser):
    from assistant.triage import TriageStore

    base, settings = service
    token = TriageStore.from_settings(settings).add_token("browser-staff")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/")
    _open_widget_by_keyboard(page)
    question = "do you have a parking validation policy for visiting providers?"
    _ask(page, question)
    page.locator("#provider-assistant button.escalate").click()
    form = page.locator("#provider-assistant form.escalation")
    form.locator('input[name="name"]').fill("Robin Diaz")
    form.locator('input[name="organisation"]').fill("Diaz Pediatrics <b>bold</b>")
    form.locator('input[name="email"]').fill("robin@diazpeds.example.org")
    form.locator('input[name="note"]').fill("Need a person to answer this")
    form.locator('button[type="submit"]').click()
    status = form.locator(".escalation-status")
    status.wait_for()
    page.wait_for_function("() => document.querySelector('#provider-assistant').shadowRoot"
                           ".querySelector('form.escalation[data-reference]') !== null")
    reference = form.get_attribute("data-reference")
    assert reference and reference in status.inner_text()

    staff = context.new_page()
    staff.goto(base + "/staff")
    staff.fill("#token", token)
    staff.click("#signin-form button")
    row = staff.locator("#queue tr", has_text=reference)
    row.wait_for()
    assert "<b>bold</b>" in row.inner_text() and staff.locator("#queue b").count() == 0  # shown as text
    row.click()
    detail = staff.locator(f'#detail-body[data-reference="{reference}"]')
    detail.wait_for()
    shown = detail.inner_text()
    assert question in shown and "Suggested department:" in shown and "Evidence" in shown
    staff.select_option("#a-status", "resolved")
    approved_reply = "Provider relations: visiting providers park free in the clinic garage; call 503-813-3376."
    staff.fill("#a-reply", approved_reply)
    staff.check("#a-approved")
    staff.click("#actions button[type=submit]")
    staff.locator("#detail-body h3", has_text="resolved").wait_for()
    staff.screenshot(path=str(ARTIFACTS / "staff-resolved.png"))

    page.bring_to_front()
    bubble = _ask(page, question)
    assert approved_reply in bubble.inner_text() and "Approved by provider relations" in bubble.inner_text()
    page.screenshot(path=str(ARTIFACTS / "widget-approved-answer.png"))
    context.close()
