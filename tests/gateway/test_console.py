"""The /ui admin console: its session and CSRF rules over HTTP, and the whole page driven in
headless Chromium (Debian's ``chromium``, which ``.ci/services`` installs; Playwright drives it,
never downloading a browser of its own). Screenshots at desktop and phone widths are written to
``tests/artifacts/console/`` (git-ignored)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import expect

from .conftest import MASTER, two_locations
from .test_postgres_redis import REDIS_URL, shared_backends  # noqa: F401 - a fixture

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
CHROMIUM = os.environ.get("VERTEX_ENGINE_CHROMIUM", "/usr/bin/chromium")
# The flags a root user on a closed network needs (no sandbox, no calls home).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _login(client: httpx.Client, key: str = MASTER, origin: str | None = None) -> httpx.Response:
    headers = {"origin": origin} if origin else {}
    return client.post("/ui/api/login", json={"master_key": key}, headers=headers)


def _make_key(gw, **fields) -> dict:
    with gw.client() as c:
        r = c.post("/key/generate", json=fields)
    assert r.status_code == 200, r.text
    return r.json()


# --- HTTP: session, cookie, CSRF ------------------------------------------------------------------


def test_sign_in_sets_a_strict_httponly_expiring_cookie_and_sign_out_ends_it(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client(None) as c:
        page = c.get("/ui/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"], "no inline script may run"
        assert c.get("/ui/api/session").json() == {"signed_in": False}
        assert c.get("/ui/api/keys").status_code == 401
        r = _login(c)
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        parts = {p.strip().split("=")[0].lower() for p in cookie.split(";")}
        assert {"httponly", "max-age", "expires", "path"} <= parts and "samesite=strict" in cookie.lower()
        assert "path=/ui" in cookie.lower()
        assert MASTER not in cookie and MASTER not in r.text, "the master key is never echoed"
        csrf = r.json()["csrf_token"]
        assert c.get("/ui/api/session").json()["csrf_token"] == csrf
        assert c.get("/ui/api/keys").status_code == 200
        stolen = c.cookies.get("vertex_engine_console")
        out = c.post("/ui/api/logout", headers={"x-csrf-token": csrf})
        assert out.status_code == 200 and "max-age=0" in out.headers["set-cookie"].lower()
    with gw.client(None) as c:  # a copy of the cookie kept from before sign-out is dead too
        c.cookies.set("vertex_engine_console", stolen, path="/ui")
        assert c.get("/ui/api/keys").status_code == 401
        assert c.get("/ui/api/session").json() == {"signed_in": False}


def test_a_session_works_on_every_instance_and_sign_out_ends_it_on_all(start_gateway, fake, shared_backends, tmp_path):
    config = two_locations()
    config["general_settings"] = {"database_url": shared_backends["database_url"], "redis_namespace": shared_backends["redis_namespace"]}
    config["router_settings"] = {"redis_url": REDIS_URL}
    one = start_gateway(config, name="one.yaml")
    two = start_gateway(config, name="two.yaml")
    with one.client(None) as a, two.client(None) as b:
        csrf = _login(a).json()["csrf_token"]
        b.cookies.set("vertex_engine_console", a.cookies.get("vertex_engine_console"), path="/ui")
        assert b.get("/ui/api/keys").status_code == 200, "a session signed by the master key is good on every instance"
        assert a.post("/ui/api/logout", headers={"x-csrf-token": csrf}).status_code == 200
        assert b.get("/ui/api/keys").status_code == 401, "signed out everywhere (Redis)"


def test_changes_need_the_csrf_token_and_same_origin(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client(None) as c:
        csrf = _login(c).json()["csrf_token"]
        for headers in ({}, {"x-csrf-token": "0" * 64}, {"x-csrf-token": csrf, "origin": "https://evil.example"}):
            r = c.post("/ui/api/keys", json={"key_alias": "sneaky"}, headers=headers)
            assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"], headers
        with gw.client() as admin:
            assert admin.get("/key/list", params={"key_alias": "sneaky"}).json()["total_count"] == 0, "nothing was made"
        ok = c.post("/ui/api/keys", json={"key_alias": "fine"}, headers={"x-csrf-token": csrf, "origin": gw.url})
        assert ok.status_code == 200 and ok.json()["key"].startswith("sk-")
        again = c.post("/ui/api/keys", json={"key_alias": "fine"}, headers={"x-csrf-token": csrf})
        assert again.status_code == 400 and again.json()["error"]["param"] == "key_alias", "errors keep their status"
        bad = c.post("/ui/api/keys", json={"rpm_limit": "many"}, headers={"x-csrf-token": csrf})
        assert bad.status_code == 400 and "rpm_limit" in bad.json()["error"]["message"]
        assert c.post("/ui/api/logout").status_code == 403, "sign-out is a change too"
        foreign = _login(httpx.Client(base_url=gw.url), origin="https://evil.example")
        assert foreign.status_code == 403


def test_a_virtual_key_or_a_wrong_key_cannot_open_the_console(start_gateway, fake):
    gw = start_gateway(two_locations())
    virtual = _make_key(gw, key_alias="not-an-admin")["key"]
    with gw.client(None) as c:
        r = _login(c, virtual)
        assert r.status_code == 403 and "virtual key" in r.json()["error"]["message"]
        assert "set-cookie" not in r.headers
        wrong = _login(c, "sk-not-the-master-key")
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        assert c.get("/ui/api/keys", headers={"authorization": f"Bearer {MASTER}"}).status_code == 401, \
            "the console API takes its session cookie, not a bearer key"


def test_without_a_master_key_the_console_says_what_to_configure(start_gateway, fake):
    gw = start_gateway(two_locations(), master_key=None)
    with gw.client(None) as c:
        r = _login(c, "anything")
    assert r.status_code == 403 and "master_key" in r.json()["error"]["message"]


def test_the_console_files_ship_in_the_wheel(tmp_path):
    """`vertex-engine serve` needs no extra install step: the page is package data."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(root)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("index.html", "console.js", "console.css"):
        assert f"engine/gateway/console/static/{name}" in names


# --- the page in Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (.ci/services does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    problems: list[str] = []
    dialogs: list[str] = []
    opened.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    opened.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.accept() if dialog.type == "confirm" else dialog.dismiss()

    opened.on("dialog", on_dialog)
    opened.problems = problems
    opened.dialogs = dialogs
    yield opened
    context.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page, url: str, key: str = MASTER) -> None:
    page.goto(url + "/ui")
    page.fill("#master-key", key)
    page.click("#signin-form button[type=submit]")


def test_console_in_chromium_keys_calls_spend_regenerate_revoke_sign_out(start_gateway, fake, page, caplog):
    caplog.set_level(logging.DEBUG)
    gw = start_gateway(two_locations())
    alias = f'<img src=x onerror=alert("alias")>team-{uuid.uuid4().hex[:6]}'

    _sign_in(page, gw.url)
    page.wait_for_selector("#view-keys:not([hidden])")
    assert page.context.cookies()[0]["httpOnly"] is True and page.context.cookies()[0]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == "", "the session cookie is out of the page's reach"

    # create a key with every setting
    page.click("#key-new")
    page.fill("input[name=key_alias]", alias)
    page.fill("input[name=models]", "gemini-flash")
    page.fill("input[name=max_budget]", "2.5")
    page.fill("input[name=budget_duration]", "30d")
    page.fill("input[name=rpm_limit]", "100")
    page.fill("input[name=tpm_limit]", "100000")
    page.fill("input[name=duration]", "7d")
    page.fill("textarea[name=metadata]", '{"owner": "<script>alert(\'meta\')</script>"}')
    page.click("#key-form-submit")
    page.wait_for_selector("#new-key:not([hidden])")
    key = page.text_content("#new-key-value")
    assert key and key.startswith("sk-")
    row = page.locator("#keys-table tbody tr").first
    assert row.locator("strong").text_content() == alias, "markup in an alias is shown as text"
    assert "<script>alert('meta')</script>" in row.text_content()
    assert page.locator("#keys-table img").count() == 0 and page.locator("#keys-table script").count() == 0
    assert "$2.50 per 30d" in row.text_content() and "100 rpm" in row.text_content()
    with gw.client() as c:
        made = c.get("/key/list", params={"return_full_object": "true"}).json()["keys"][0]
    assert made["key_alias"] == alias and made["models"] == ["gemini-flash"] and made["rpm_limit"] == 100
    assert made["tpm_limit"] == 100000 and made["metadata"] == {"owner": "<script>alert('meta')</script>"} and made["expires"]
    page.click("#new-key-done")
    assert page.text_content("#new-key-value") == "", "the new key is shown once"

    # a call with it through the openai client
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1")
    answer = client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "hi"}],
                                            extra_body={"metadata": {"tags": ["console-test"]}})
    assert answer.choices[0].message.content

    # ...appears in the requests view
    page.click("nav .tab[data-view=requests]")
    page.wait_for_selector("#requests-table tbody tr[data-request]")
    first = page.locator("#requests-table tbody tr").first
    text = first.text_content()
    assert alias in text and "gemini-flash" in text and "success" in text
    cost = first.locator("td").nth(5).text_content()
    assert re.fullmatch(r"\$0\.0000\d*[1-9]\d*", cost), f"a cheap call's cost shows its digits, not $0.00: {cost}"
    page.select_option("#req-status", "failure")
    page.wait_for_selector("#requests-table td.empty")
    page.select_option("#req-status", "")
    page.wait_for_selector("#requests-table tbody tr[data-request]")

    # ...and in spend, per key / model / tag, with a total that is not $0.00
    page.click("nav .tab[data-view=spend]")
    page.wait_for_selector("#spend-chart svg rect")
    total = page.text_content("#spend-total")
    assert re.fullmatch(r"\$0\.0000\d*[1-9]\d*", total), total
    assert alias in page.text_content("#spend-table")
    page.select_option("#spend-group", "tag")
    expect(page.locator("#spend-table")).to_contain_text("console-test")
    page.select_option("#spend-group", "model")
    expect(page.locator("#spend-table")).to_contain_text("gemini-flash")
    _shot(page, "spend-1280")

    # models and their deployments
    page.click("nav .tab[data-view=models]")
    page.wait_for_selector("#models-list .model")
    assert "gemini-flash#2" in page.text_content("#models-list") and "healthy" in page.text_content("#models-list")
    _shot(page, "models-1280")

    # edit
    page.click("nav .tab[data-view=keys]")
    page.wait_for_selector("#keys-table [data-action=edit]")
    page.click("#keys-table [data-action=edit]")
    page.fill("input[name=rpm_limit]", "7")
    page.click("#key-form-submit")
    expect(page.locator("#keys-table tbody")).to_contain_text("7 rpm")
    page.fill("#key-search", "no-such-alias")
    page.wait_for_selector("#keys-table td.empty")
    page.fill("#key-search", "team-")
    page.wait_for_selector("#keys-table [data-action=regenerate]")
    _shot(page, "keys-1280")

    # regenerate: the old value stops working, the new one works
    page.click("#keys-table [data-action=regenerate]")
    page.wait_for_selector("#new-key:not([hidden])")
    new_key = page.text_content("#new-key-value")
    assert new_key.startswith("sk-") and new_key != key
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "hi"}])
    fresh = openai.OpenAI(api_key=new_key, base_url=gw.url + "/v1")
    assert fresh.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "hi"}]).choices

    # revoke
    page.click("#keys-table [data-action=revoke]")
    page.wait_for_selector("#keys-table td.empty")
    with pytest.raises(openai.AuthenticationError):
        fresh.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "hi"}])

    # a request without the CSRF token, from the signed-in page itself, is refused
    status = page.evaluate("""async () => (await fetch('/ui/api/keys', {method: 'POST', credentials: 'same-origin',
        headers: {'content-type': 'application/json'}, body: JSON.stringify({key_alias: 'no-csrf'})})).status""")
    assert status == 403
    page.problems.clear()  # that refusal is logged by the browser on purpose

    # phone width
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("nav .tab[data-view=spend]")
    page.wait_for_selector("#spend-chart svg rect")
    _shot(page, "spend-390")
    page.click("nav .tab[data-view=keys]")
    page.wait_for_selector("#keys-table")
    _shot(page, "keys-390")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scroll on a phone"

    # sign out
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.context.cookies() == []
    assert new_key not in page.content(), "no key value is left in the page after sign-out"
    page.reload()
    page.wait_for_selector("#signin:not([hidden])")

    assert page.dialogs == [
        f"Regenerate {alias}? The current value stops working at once.",
        f"Revoke {alias}? Calls with it are refused from now on.",
    ], "only the console's own confirmations: nothing injected ran"
    assert page.problems == [], page.problems
    logged = caplog.text
    with gw.client(None) as c:
        html = c.get("/ui/").text + c.get("/ui/static/console.js").text
    for secret in (MASTER, key, new_key):
        assert secret not in logged and secret not in html


def test_a_virtual_key_is_refused_at_the_sign_in_page(start_gateway, fake, page):
    gw = start_gateway(two_locations())
    virtual = _make_key(gw, key_alias="member")["key"]
    _sign_in(page, gw.url, virtual)
    expect(page.locator("#signin-error")).to_contain_text("virtual key")
    assert page.is_hidden("#nav") and page.context.cookies() == []
    _shot(page, "signin-refused-1280")
    assert all("403" in p for p in page.problems), page.problems  # only the refused sign-in itself
