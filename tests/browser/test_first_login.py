"""The first sign-in of an account an administrator created, in a real Chromium against a real
``linli serve``: the one-time password must be changed before the workbench opens.

Runs the platform the way the README does (``linli migrate``, ``linli demo``, ``linli serve``)
on a fresh SQLite database in a temporary data directory; pytest-django's live server is not
used because its flush is refused by the audit trail's append-only triggers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import translation

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEWCOMER = "newcomer"
NEWCOMER_NAME = "王小明"
NEW_PASSWORD = "Fresh-Start-2026!"

CREATE_NEWCOMER = f"""
from linli.accounts import services
from linli.accounts.models import User
from linli.regions.models import RegionNode
admin = User.objects.get(username="sysadmin")
user, one_time = services.create_user(
    admin, username="{NEWCOMER}", display_name="{NEWCOMER_NAME}",
    home_region=RegionNode.objects.get(code="370124001022"),
)
print("ONE-TIME:" + one_time)
"""


def zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        text = translation.gettext(msgid)
    assert text != msgid, f"{msgid!r} has no Chinese translation"
    return text


@dataclass
class Server:
    url: str
    one_time_password: str


def _linli(*args: str, env: dict[str, str], timeout: int = 300) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "linli.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"linli {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    data_dir = tmp_path_factory.mktemp("linli-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "DATABASE_URL"))}
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update({"LINLI_DATA_DIR": str(data_dir), "LINLI_DEBUG": "false"})
    _linli("migrate", "--verbosity", "0", env=env)
    _linli("demo", env=env)
    created = _linli("shell", "-c", CREATE_NEWCOMER, env=env)
    one_time = next(
        line.removeprefix("ONE-TIME:")
        for line in created.splitlines()
        if line.startswith("ONE-TIME:")
    )
    port = _free_port()
    log = (data_dir / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "linli.cli", "serve", "--no-jobs", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "linli serve did not come up:\n" + (data_dir / "serve.log").read_text()
                )
            time.sleep(0.3)
        yield Server(url=url, one_time_password=one_time)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def page(server: Server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=1
        )
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_wrong_password_shows_the_chinese_error_and_stays_on_login(
    server: Server, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", NEWCOMER)
    page.fill("input[name=password]", "not-the-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator("main")).to_contain_text(zh("The user name or password is wrong."))
    assert "/accounts/login/" in page.url
    page.screenshot(path=str(ARTIFACTS / "login-wrong-password.png"), full_page=True)


def test_first_login_forces_a_password_change_then_opens_the_workbench(
    server: Server, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    # Given an account the system administrator created, with a one-time password
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/accounts/login/?next=/")
    expect(page.locator("h1")).to_have_text(zh("Log in"))
    page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)

    # When the newcomer signs in with it, the password-change page is forced
    page.fill("input[name=username]", NEWCOMER)
    page.fill("input[name=password]", server.one_time_password)
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(f"{server.url}/accounts/password/", timeout=15_000)
    page.goto(f"{server.url}/")  # the workbench stays closed until the password is changed
    expect(page).to_have_url(f"{server.url}/accounts/password/")
    page.screenshot(path=str(ARTIFACTS / "password-change.png"), full_page=True)

    page.fill("input[name=old_password]", server.one_time_password)
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=confirm_password]", NEW_PASSWORD)
    page.press("input[name=confirm_password]", "Enter")

    # Then the workbench opens, in Chinese, with the newcomer's name
    expect(page.locator("h1")).to_have_text(zh("Workbench"), timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "workbench.png"), full_page=True)
    # On a phone the user menu folds behind the menu button; opening it shows the name.
    page.click("label.nav-toggle-label")
    expect(page.locator("header .who")).to_be_visible()
    expect(page.locator("header .who")).to_have_text(NEWCOMER_NAME)
    page.screenshot(path=str(ARTIFACTS / "workbench-menu.png"), full_page=True)
