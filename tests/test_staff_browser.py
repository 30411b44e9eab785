"""The staff page in a real browser (Debian's Chromium driven by Playwright) against the real service, under a
strict Content-Security-Policy: paging the queue, burst markers, withdrawing an approved answer.

Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import chromium, corpus_service, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# What the staff page must work under: scripts only from the service itself, no inline script or handler.
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
pytestmark = needs_chromium()


@pytest.fixture(scope="module")
def service(corpus_index, real_embedder, tmp_path_factory):
    with corpus_service(corpus_index, real_embedder, tmp_path_factory.mktemp("staff-browser") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


QUESTION = "how long do I have to file a corrected claim?"
REPLY = "You have 90 days from the date of service to file a corrected claim [1]."


def _seed(settings) -> tuple[str, str]:
    """A staff token; one genuine inquiry with an approved reply, made first; then 60 from one client, of which all
    but the first three are a burst. Returns the token and the genuine inquiry's reference."""
    from assistant.triage import Staff, TriageStore

    store = TriageStore.from_settings(settings)
    token = store.add_token("browser-staff")
    store.record_turn({"message_id": "m-staff-1", "conversation_id": "c-staff", "answer": "Within 90 days [1].",
                       "citations": [{"n": 1, "doc_id": "manual", "doc_title": "Provider Manual",
                                      "section": "5.1 Claims", "page": 3, "quote": "Within 90 days."}],
                       "contacts": [], "category": "claims", "urgent": False, "abstained": False,
                       "confidence": 0.5}, QUESTION)
    genuine = store.escalate(conversation_id="c-staff", name="Robin Diaz", phone="503-555-0100", email=None,
                             organisation='Diaz Pediatrics <img src=x onerror="window.__xss=1">',
                             note="Need a person", client="client-genuine")
    store.update(genuine["id"], Staff("browser-staff", False), reply=REPLY, approved=True)
    for n in range(60):
        store.escalate(conversation_id=None, name=f"Caller {n}", organisation="Flood Co", phone="503-555-0101",
                       email=None, note=f"flood {n}", client="client-flood")
    store.engine.dispose()
    return token, genuine["reference"]


def _strict_page(context, base: str):
    """A page whose /staff document carries STRICT_CSP, recording any violation of it."""
    def with_csp(route) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page = context.new_page()
    page.route(base + "/staff", with_csp)
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " (window.__csp = window.__csp || []).push(e.violatedDirective); });")
    return page


def test_page_the_queue_see_bursts_and_withdraw_an_approved_answer(service, browser):
    from assistant.triage import TriageStore

    base, settings = service
    token, reference = _seed(settings)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = _strict_page(context, base)
    page.goto(base + "/staff")
    page.fill("#token", token)
    page.click("#signin-form button")
    page.locator("#queue tr").first.wait_for()

    rows = page.locator("#queue tr")
    assert rows.count() == 50
    assert page.locator("#page-info").inner_text() == "1–50 of 61"
    genuine = page.locator("#queue tr", has_text=reference)
    assert genuine.count() == 1 and genuine.get_attribute("data-burst") is None  # the oldest, still on page 1
    assert "<img src=x" in genuine.inner_text() and page.locator("#queue img").count() == 0
    burst_rows = page.locator("#queue tr[data-burst=true]")
    assert burst_rows.count() == 46 and burst_rows.first.locator(".burst").is_visible()
    assert page.locator("#prev").is_disabled() and page.locator("#next").is_enabled()
    page.screenshot(path=str(ARTIFACTS / "staff-queue-bursts.png"))

    page.click("#next")
    page.wait_for_function("() => document.querySelectorAll('#queue tr').length === 11")
    assert page.locator("#page-info").inner_text() == "51–61 of 61"
    assert page.locator("#queue tr[data-burst=true]").count() == 11 and page.locator("#next").is_disabled()
    page.click("#prev")
    page.locator("#queue tr", has_text=reference).wait_for()

    page.locator("#queue tr", has_text=reference).click()
    detail = page.locator(f'#detail-body[data-reference="{reference}"]')
    detail.wait_for()
    assert "(approved answer)" in page.locator("#d-reply").inner_text()
    assert page.locator("#a-approved").is_checked()
    page.click("#a-withdraw")
    page.wait_for_function("() => !document.querySelector('#a-withdraw')")
    assert "(approved answer)" not in page.locator("#d-reply").inner_text()
    assert not page.locator("#a-approved").is_checked()
    assert "withdraw answer" in detail.locator(".history").inner_text()
    page.screenshot(path=str(ARTIFACTS / "staff-withdrawn.png"))

    store = TriageStore.from_settings(settings)
    assert store.approved_answer(QUESTION) is None
    assert page.evaluate("window.__xss") is None and page.evaluate("window.__csp") is None
    context.close()
