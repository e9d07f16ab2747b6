"""The browser demo (scripts/app.py) driven by a real headless Chromium through Selenium.

    python3 -m uv run --no-dev --group demo pytest tests/demo -q        # what .ci/run runs

Needs the ``demo`` dependency group (gradio, selenium) and Debian's ``chromium`` + ``chromium-driver``
(``apt-get install chromium chromium-driver``); without them every test here is skipped with the reason.
Set ``STROKELAB_DEMO_SCREENSHOT=docs/demo_screenshot.png`` to keep a screenshot of the finished page.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "gradio", reason="gradio is not installed: run python3 -m uv run --no-dev --group demo pytest tests/demo"
)
pytest.importorskip(
    "selenium",
    reason="selenium is not installed: run python3 -m uv run --no-dev --group demo pytest tests/demo",
)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "Chromium or chromedriver not found: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The demo server on a free port of 127.0.0.1 (started once for this module, stopped after)."""
    port = _free_port()
    work = tmp_path_factory.mktemp("app_work")
    log = (work / "server.log").open("w")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "scripts/app.py", "--port", str(port), "--threads", "1", "--work_dir", str(work)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180  # imports take long on a loaded 2-core machine
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"the demo server did not start:\n{(work / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with a fresh profile; downloads go to ``tmp_path / "downloads"``."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.downloads = downloads
    yield driver
    driver.quit()


def _wait(driver, what, timeout=60, message=""):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: what(d))
    except TimeoutException:
        text = driver.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"timed out after {timeout} s waiting for {message}; the page says:\n{text[-2000:]}")


def _upload(driver, path: Path) -> None:
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(path))


def _status(driver) -> str:
    return driver.find_element(By.ID, "status").text


def _set_number(driver, elem_id: str, value: int) -> None:
    """Type ``value`` into the number box of the slider or number field ``elem_id`` (fires its change)."""
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    box.clear()
    box.send_keys(str(value))
    box.send_keys("\t")


def _fetch_in_browser(driver, url: str) -> bytes:
    """The bytes the page itself gets for ``url`` (same origin), through the browser's fetch()."""
    b64 = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
            let s = ''; const u = new Uint8Array(b);
            for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
            done(btoa(s));
        }).catch(e => done('ERROR ' + e));""",
        url,
    )
    assert not b64.startswith("ERROR"), b64
    return base64.b64decode(b64)


def _photo(tmp_path: Path) -> Path:
    from PIL import Image

    from common.data import bundled_photos

    path = tmp_path / "my photo.jpg"  # a real photo, with a space in its name
    Image.fromarray(bundled_photos(["chelsea"])["chelsea"]).save(path, quality=90)
    return path


def test_upload_sketch_and_download_svg(app_url, browser, tmp_path):
    from PIL import Image

    browser.get(app_url)
    _wait(browser, lambda d: d.find_elements(By.ID, "run"), 60, "the Run button")
    assert "Limits per request" in browser.find_element(By.ID, "limits").text

    _upload(browser, _photo(tmp_path))
    _wait(browser, lambda d: "uploaded my photo.jpg: 451x300 px" in _status(d), 60, "the upload to register")

    browser.find_element(By.XPATH, "//*[@id='method']//label[contains(., 'sketching')]").click()
    _wait(
        browser, lambda d: d.find_element(By.ID, "sketch_strokes").is_displayed(), 20, "the sketching knobs"
    )
    _set_number(browser, "sketch_strokes", 12)
    _set_number(browser, "iterations", 30)
    browser.find_element(By.XPATH, "//*[@id='video']//input[@type='checkbox']").click()  # no video: faster
    browser.find_element(By.ID, "run").click()

    def result_image(d):
        imgs = d.find_elements(By.CSS_SELECTOR, "#result img")
        ok = imgs and d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", imgs[0])
        return imgs[0] if ok else None

    img = _wait(browser, result_image, 240, "the result image")
    _wait(browser, lambda d: "12 strokes" in d.find_element(By.ID, "info").text, 30, "the run summary")
    browser.save_screenshot(str(tmp_path / "page.png"))
    if os.environ.get("STROKELAB_DEMO_SCREENSHOT"):  # kept for the README, as a small 128-colour PNG
        page = Image.open(tmp_path / "page.png").convert("RGB")
        page.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
            os.environ["STROKELAB_DEMO_SCREENSHOT"], optimize=True
        )

    sketch = Image.open(BytesIO(_fetch_in_browser(browser, img.get_attribute("src")))).convert("L")
    assert sketch.size == (224, 224)  # the sketch canvas
    dark = float((np.asarray(sketch) < 128).mean())
    assert 0.002 < dark < 0.3, f"the sketch should be dark lines on white, dark fraction {dark:.4f}"

    # the SVG download: click its link and read what the browser saved
    links = browser.find_elements(By.CSS_SELECTOR, "#downloads a")
    svg_link = next((a for a in links if "sketch.svg" in (a.get_attribute("href") or "")), None)
    assert svg_link is not None, [a.get_attribute("href") for a in links]
    svg_link.click()
    saved = browser.downloads / "sketch.svg"
    _wait(browser, lambda d: saved.is_file() and saved.stat().st_size > 0, 30, "the SVG download")
    root = ET.fromstring(saved.read_text())
    assert root.tag.endswith("svg")
    paths = [e for e in root.iter() if e.tag.endswith("path")]
    assert len(paths) == 12, f"one <path> per stroke expected, found {len(paths)}"

    json_link = next(a for a in links if "strokes.json" in (a.get_attribute("href") or ""))
    strokes = json.loads(_fetch_in_browser(browser, json_link.get_attribute("href")))
    assert strokes["format"] == "curve"
    assert len(strokes["strokes"]) == 12


def test_non_image_upload_is_rejected(app_url, browser, tmp_path):
    browser.get(app_url)
    _wait(browser, lambda d: d.find_elements(By.ID, "run"), 60, "the Run button")
    bad = tmp_path / "notes.png"  # an image's name, not an image's bytes
    bad.write_text("these are my notes, not a picture\n")
    _upload(browser, bad)
    _wait(browser, lambda d: "notes.png is not an image" in _status(d), 60, "the error message")
    assert "error" in _status(browser)

    browser.find_element(By.ID, "run").click()  # running anyway names the same problem
    _wait(
        browser,
        lambda d: (
            "notes.png is not an image" in d.find_element(By.TAG_NAME, "body").text.replace("\n", " ")
            and "error:" in d.find_element(By.TAG_NAME, "body").text
        ),
        60,
        "the error toast",
    )
    assert not browser.find_elements(By.CSS_SELECTOR, "#result img")
