"""A grid worker's report on a phone-sized Chromium, through the whole lifecycle: reported with a
camera photo and the phone's position, accepted and dispatched by the community worker on the
workbench, signed for and handled by the department on the phone, reviewed and closed on the
workbench, and rated by the reporter on the phone.

Runs the platform as the README does (``linli migrate``, ``linli demo``, ``linli serve``) on a
fresh SQLite database; the only set-up beyond the demo is the two departments (the county's
enforcement bureau with the demo department handler, the community committee with the demo
community worker). Screenshots of every step go to ``test-artifacts/``.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
PASSWORD = "Demo-Linli-2026!"  # the demo accounts' published password (linli demo)
GRID_WORKER = "jinyuan_grid1"
COMMUNITY_WORKER = "jinyuan_worker"
DEPARTMENT_HANDLER = "dept_handler"
BUREAU = "平阴县综合行政执法局"
CATEGORY = "暴露垃圾"  # cityscape-litter: needs a photo
DESCRIPTION = "锦源小区北门外暴露垃圾堆积，散发异味"
HANDLING_NOTE = "已组织清运，并对周边路面冲洗"
# A point in 平阴县城 (synthetic; the demo has no real addresses).
POSITION = {"latitude": 36.28761, "longitude": 116.45537, "accuracy": 12}

SET_UP_DEPARTMENTS = f"""
from linli.accounts.models import User
from linli.events.models import Department
from linli.regions.models import RegionNode
county = RegionNode.objects.get(code="370124")
community = RegionNode.objects.get(code="370124001022")
bureau, _ = Department.objects.get_or_create(region=county, name="{BUREAU}")
bureau.members.add(User.objects.get(username="{DEPARTMENT_HANDLER}"))
committee, _ = Department.objects.get_or_create(
    region=community, name="锦源社区居委会", defaults={{"kind": "community"}}
)
committee.members.add(User.objects.get(username="{COMMUNITY_WORKER}"))
print("OK")
"""


def zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        text = translation.gettext(msgid)
    assert text != msgid, f"{msgid!r} has no Chinese translation"
    return text


# In a full-page picture the fixed bars would stand where the page was scrolled to; put them
# at the top and the bottom of the page instead.
STATIC_BARS = ".m-bar, .m-tabs { position: static !important; }"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True, style=STATIC_BARS)


def photo_png(label: str) -> dict[str, Any]:
    """A camera photo stand-in: a 640×480 PNG with something drawn on it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (96, 125, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((160, 220, 480, 430), fill=(120, 100, 80))
    draw.ellipse((230, 170, 410, 300), fill=(70, 70, 70))
    draw.text((20, 20), label, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"name": f"{label}.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


@dataclass
class Server:
    url: str


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
    assert "OK" in _linli("shell", "-c", SET_UP_DEPARTMENTS, env=env)
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
        yield Server(url=url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def phone(browser: Any, server: Server) -> Any:
    """A phone: 390×844, touch, the position the test sets, and permission to read it."""
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation=POSITION,
        permissions=["geolocation"],
    )
    context.set_default_timeout(15_000)
    return context


def desk(browser: Any) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    return context


def sign_in(context: Any, server: Server, username: str, then: str) -> Any:
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(f"{server.url}{then}")
    return page


def staff_step(page: Any, action: str, **fields: str) -> None:
    """Take one step on the workbench's event page: open it, fill it, submit it."""
    step = page.locator(f"#action-{action}")
    if step.get_attribute("open") is None:
        step.locator("summary").click()
    for name, value in fields.items():
        field = step.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            option = field.locator("option", has_text=value).first.get_attribute("value")
            field.select_option(option)
        else:
            field.fill(value)
    step.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_a_grid_workers_phone_report_goes_through_dispatch_handling_review_and_rating(
    server: Server, browser: Any
) -> None:
    from playwright.sync_api import expect

    # --- the grid worker reports on the phone: photo, position, one screen -----------------
    worker_phone = phone(browser, server)
    page = sign_in(worker_phone, server, GRID_WORKER, "/m/")
    expect(page.locator("h1")).to_have_text(zh("Events on the phone"))
    shot(page, "1-home-grid-worker")
    page.get_by_role("link", name=zh("Report a problem")).click()
    expect(page).to_have_url(f"{server.url}/m/report/")
    status = page.locator("[data-status]")
    located = zh("Position found (within about %(metres)s m). Drag the pin to adjust.")
    expect(status).to_have_text(located.replace("%(metres)s", "12"), timeout=20_000)
    expect(page.locator(".m-map .leaflet-marker-icon")).to_be_visible()
    assert page.input_value("input[name=latitude]") == f"{POSITION['latitude']:.6f}"
    assert page.input_value("input[name=longitude]") == f"{POSITION['longitude']:.6f}"
    # The worker's own grid is chosen already (they have exactly one).
    grid = page.locator("#id_region option:checked").inner_text()
    assert "网格" in grid, grid
    page.select_option("#id_category", label=CATEGORY)
    expect(page.locator("#category-needs")).to_contain_text(
        zh("This kind of problem needs a photo.")
    )
    page.set_input_files("#id_photos", [photo_png("scene")])
    expect(page.locator("#photo-previews img")).to_have_count(1)
    page.fill("#id_description", DESCRIPTION)
    shot(page, "2-report-form")
    # A double tap sends one report.
    page.locator("button[type=submit]").dblclick()
    expect(page.locator(".m-messages")).to_contain_text(
        zh("Reported. Your report number is %(number)s.").split("%")[0]
    )
    match = re.search(r"/m/mine/(\d+)/$", page.url)
    assert match, page.url
    pk = int(match.group(1))
    number = page.locator(".m-facts dd").first.inner_text()
    expect(page.locator(".m-badge").first).to_have_text(zh("Reported"))
    expect(page.locator(".m-photos img")).to_have_count(1)
    shot(page, "3-reported")
    page.goto(f"{server.url}/m/mine/")
    expect(page.locator(".m-card", has_text=DESCRIPTION)).to_have_count(1)

    # --- the community worker accepts and dispatches on the workbench ---------------------
    office = desk(browser)
    desk_page = sign_in(office, server, COMMUNITY_WORKER, f"/events/{pk}/")
    expect(desk_page.locator("h1")).to_contain_text(DESCRIPTION[:10])
    staff_step(desk_page, "accept")
    expect(desk_page.locator(".event-head .status")).to_have_text(zh("Accepted"))
    staff_step(desk_page, "dispatch", department=BUREAU)
    expect(desk_page.locator(".event-head .status")).to_have_text(zh("Dispatched"))
    desk_page.screenshot(path=str(ARTIFACTS / "phone-4-dispatched-desk.png"), full_page=True)

    # --- the department signs for it and handles it on the phone --------------------------
    handler_phone = phone(browser, server)
    page = sign_in(handler_phone, server, DEPARTMENT_HANDLER, "/m/tasks/")
    task = page.locator(".m-card", has_text=number)
    expect(task).to_be_visible()
    # The demo county has events of its own for this department: only the label is fixed.
    expect(page.locator("h2.m-section").first).to_contain_text(
        (zh("To sign for (%(n)s)") % {"n": 1}).split("（")[0].split("(")[0]
    )
    shot(page, "5-tasks")
    task.get_by_role("button", name=zh("Sign for")).tap()
    expect(page.locator(".m-messages")).to_contain_text(number)
    expect(page.locator(".m-card .m-badge").first).to_have_text(zh("Being handled"))
    handle = page.locator("#step-handle")
    expect(handle).to_have_attribute("open", "")
    handle.locator("textarea[name=note]").fill(HANDLING_NOTE)
    handle.locator("input[type=file]").set_input_files([photo_png("after")])
    expect(handle.locator(".m-previews img")).to_have_count(1)
    shot(page, "6-handle-form")
    handle.get_by_role("button", name=zh("Report as handled")).tap()
    expect(page).to_have_url(f"{server.url}/m/tasks/")
    expect(page.locator(".m-messages")).to_contain_text(number)
    expect(page.locator(".m-card", has_text=number)).to_have_count(0)
    shot(page, "7-handled")

    # --- the community worker reviews and closes on the workbench -------------------------
    desk_page.goto(f"{server.url}/events/{pk}/")
    expect(desk_page.locator(".event-head .status")).to_have_text(zh("Handled"))
    staff_step(desk_page, "review")
    expect(desk_page.locator(".event-head .status")).to_have_text(zh("Reviewed"))
    staff_step(desk_page, "close")
    expect(desk_page.locator(".event-head .status")).to_have_text(zh("Closed"))
    desk_page.screenshot(path=str(ARTIFACTS / "phone-8-closed-desk.png"), full_page=True)

    # --- the grid worker sees the outcome and rates it on the phone -----------------------
    page = worker_phone.new_page()
    page.goto(f"{server.url}/m/mine/{pk}/")
    expect(page.locator(".m-badge").first).to_have_text(zh("Closed"))
    expect(page.locator(".m-timeline")).to_contain_text(HANDLING_NOTE)
    expect(page.locator("#rate h2")).to_have_text(zh("Rate the result"))
    satisfied = page.get_by_text(zh("Satisfied"), exact=True)
    page.locator(".m-choices label").filter(has=satisfied).tap()
    page.fill("textarea[name=comment]", "清理及时，谢谢")
    shot(page, "9-rate")
    page.get_by_role("button", name=zh("Send my rating")).tap()
    expect(page.locator(".m-messages")).to_contain_text(
        zh("Thank you. Your rating has been recorded.")
    )
    expect(page.locator(".m-facts")).to_contain_text(zh("Satisfied"))
    expect(page.locator("#rate")).to_have_count(0)
    expect(page.locator(".m-timeline")).to_contain_text(zh("Rated"))
    shot(page, "10-rated")

    for context in (worker_phone, handler_phone, office):
        context.close()


def test_a_resident_reports_from_the_phone_is_told_what_is_missing_and_follows_the_report(
    server: Server, browser: Any
) -> None:
    from playwright.sync_api import expect

    context = phone(browser, server)
    page = sign_in(context, server, "jinyuan_resident", "/m/")
    page.get_by_role("link", name=zh("Report a problem in my community")).click()
    expect(page).to_have_url(f"{server.url}/m/report/")
    # A resident reports for their own community: no place to choose, no map.
    expect(page.locator("#id_region")).to_have_count(0)
    expect(page.locator("[data-locator]")).to_have_count(0)
    expect(page.locator(".m-main > p.m-muted").first).to_contain_text("锦源社区")
    page.select_option("#id_category", label=CATEGORY)
    page.fill("#id_address", "锦源小区7号楼南侧")
    page.fill("#id_description", "楼下绿化带里有人倒了一堆装修垃圾")
    page.get_by_role("button", name=zh("Send the report")).tap()
    # The category needs a photo: said in Chinese, what was typed is kept.
    expect(page.locator(".m-errors")).to_contain_text(
        zh("The report was not sent. Please correct the items marked below.")
    )
    expect(page.locator(".m-field.has-error .m-error")).to_have_text(
        zh("This kind of problem needs a photo.")
    )
    expect(page.locator("#id_address")).to_have_value("锦源小区7号楼南侧")
    shot(page, "11-resident-missing-photo")
    page.set_input_files("#id_photos", [photo_png("debris")])
    page.get_by_role("button", name=zh("Send the report")).tap()
    expect(page.locator(".m-messages")).to_contain_text(
        zh("Reported. Your report number is %(number)s.").split("%")[0]
    )
    expect(page.locator(".m-facts")).to_contain_text("锦源社区")
    shot(page, "12-resident-reported")
    page.get_by_role("link", name=zh("My reports")).click()
    # The demo resident has earlier reports too; this one is listed once.
    expect(page.locator(".m-card", has_text="楼下绿化带里有人倒了一堆装修垃圾")).to_have_count(1)
    shot(page, "13-resident-my-reports")
    context.close()
