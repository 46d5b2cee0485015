"""The README's picture of ``tagger serve``'s page: start the server on a free port, type a text into the page in
headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by selenium), tag it and take a screenshot.

    python scripts/screenshot_serve.py --output docs/serve-page.png

``tests/test_serve.py`` starts its servers and browser with ``served``, ``browser`` and ``tag_in_page``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TEXT = (
    "The battery life is amazing and the screen is bright, but the keyboard feels cheap and the touchpad stops "
    "working after an hour. Customer support replaced the power adapter within a week."
)
URL = re.compile(r"tagger serve: .* at (http://\S+/) ")


@dataclass
class Server:
    """A running ``tagger serve``: its page's ``url``, its process and the lines of its standard error so far."""

    url: str
    process: subprocess.Popen
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def served(model: str, *options: str, timeout: float = 120) -> Iterator[Server]:
    """``tagger serve --model MODEL --port 0 OPTIONS`` in a process of one torch thread, once it names its URL;
    stopped by Ctrl-C (SIGINT) when the block ends, if it still runs."""
    command = [sys.executable, "-m", "tagger.cli.main", "serve", "--model", model, "--port", "0", "--threads", "1"]
    environment = os.environ | {"OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([*command, *options], stderr=subprocess.PIPE, text=True, env=environment)
    server, ready = Server("", process), threading.Event()

    def read() -> None:
        for line in process.stderr:
            server.errors.append(line)
            if not server.url and (found := URL.search(line)):
                server.url = found.group(1)
                ready.set()
        ready.set()  # it stopped

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout) or not server.url:
            raise RuntimeError(f"tagger serve did not start serving within {timeout:.0f} s:\n{''.join(server.errors)}")
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        reader.join(timeout=10)  # the last lines of standard error


@contextlib.contextmanager
def browser(width: int = 900, height: int = 560):
    """A selenium WebDriver of headless Chromium with a fresh profile and a window of ``width`` × ``height``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()


def tag_in_page(driver, url: str, text: str, timeout: float = 30) -> list[tuple[str, str]]:
    """Open the page at ``url``, type ``text``, press Tag and wait for the result: the highlighted entities as
    ``(text, label)``, in order."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "tag").click()
    WebDriverWait(driver, timeout).until(lambda d: d.find_element(By.ID, "status").text.endswith("entities"))
    marks = "return [...document.querySelectorAll('mark.entity')].map(m => [m.firstChild.data, m.dataset.label])"
    return [tuple(pair) for pair in driver.execute_script(marks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="semeval14-laptop-fast", help="the model to serve")
    parser.add_argument("--text", default=TEXT, help="the text to tag")
    parser.add_argument("--output", type=Path, default=Path("docs/serve-page.png"), help="the PNG to write")
    args = parser.parse_args()
    with served(args.model) as server, browser() as driver:
        found = tag_in_page(driver, server.url, args.text)
        height = "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"
        driver.set_window_size(driver.get_window_size()["width"], driver.execute_script(height))  # no scroll bar
        driver.save_screenshot(str(args.output))
    print(f"{args.output}: the page with {len(found)} entities: {', '.join(text for text, _ in found)}")


if __name__ == "__main__":
    main()
