"""``tagger serve`` for real: the command on a free port of 127.0.0.1 with the bundled ``semeval14-laptop-fast``,
asked over HTTP (concurrent requests tag as ``Tagger.tag`` does; bad requests get a 4xx and a message, and the
server goes on), its page driven in headless Chromium, and Ctrl-C."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tagger import Tagger

pytest.importorskip("starlette", reason="tagger serve needs the serve extra (starlette, uvicorn)")
pytestmark = pytest.mark.usefixtures("one_thread")

MODEL = "semeval14-laptop-fast"
SCRIPT = Path(__file__).parents[1] / "scripts" / "screenshot_serve.py"
spec = importlib.util.spec_from_file_location("screenshot_serve", SCRIPT)
screenshot = sys.modules["screenshot_serve"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(screenshot)  # served, browser and tag_in_page
REVIEWS = [
    "The battery life is great but the keyboard feels cheap.",
    "Screen is too dim. The touchpad works well, and the speakers are loud.",
    "I love the design, hate the price.",
    "Windows 8 crashed twice; the customer support was useless.",
    "",
    "No entities here at all, I think.",
    "The hard drive died after a month. Apple replaced the logic board and the power adapter for free.",
    "Its 15 inch display and backlit keys — perfect for night work — beat my old Dell’s.",
]
LIMITS = ("--max-texts", "4", "--max-chars", "400")


@pytest.fixture(scope="module")
def server():
    with screenshot.served(MODEL, *LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load(MODEL)


def expected(tagger, texts):
    return [{"text": t.text, "spans": [span.as_dict() for span in t.spans]} for t in tagger.tag(texts)]


def same(results, wanted):
    """Results equal but for the last bits of the scores (other batches, other padding)."""
    assert [[{**s, "score": None} for s in r["spans"]] for r in results] == [
        [{**s, "score": None} for s in w["spans"]] for w in wanted
    ]
    assert [r["text"] for r in results] == [w["text"] for w in wanted]
    scores = [s["score"] for r in results for s in r["spans"]]
    assert scores == pytest.approx([s["score"] for w in wanted for s in w["spans"]], abs=1e-5)


def test_tag_gives_character_spans_as_tagger_tag_does(server, tagger):
    texts = REVIEWS[:4]
    answer = httpx.post(f"{server.url}tag", json={"texts": texts})
    assert answer.status_code == 200
    results = answer.json()["results"]
    same(results, expected(tagger, texts))
    assert any(result["spans"] for result in results)
    for text, result in zip(texts, results):
        for span in result["spans"]:
            assert text[span["start"] : span["end"]] == span["text"] and span["label"] == "ASPECT"
            assert 0 < span["score"] <= 1


def test_concurrent_requests_are_batched_and_each_gets_its_own_results(server, tagger):
    before = httpx.get(f"{server.url}health").json()
    requests = [[REVIEWS[(n + k) % len(REVIEWS)] for k in range(1 + n % 3)] for n in range(20)]
    answers, start = [None] * len(requests), threading.Barrier(len(requests))

    def ask(number: int) -> None:
        start.wait()
        answers[number] = httpx.post(f"{server.url}tag", json={"texts": requests[number]}, timeout=60)

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200] * len(requests)
    for texts, answer in zip(requests, answers):
        same(answer.json()["results"], expected(tagger, texts))
    after = httpx.get(f"{server.url}health").json()
    assert after["requests"] - before["requests"] == len(requests)
    assert after["texts"] - before["texts"] == sum(map(len, requests))
    assert 1 <= after["batches"] - before["batches"] < len(requests)  # some requests shared a forward pass


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b'{"texts": ["unclosed', 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b'["a text"]', 422, "expected an object"),
        (b'{"text": ["a text"]}', 422, "expected an object"),
        (b'{"texts": "a text"}', 422, '"texts" must be a list of strings, got a string'),
        (b'{"texts": ["a text", 3]}', 422, "texts[1] is a number"),
        (b'{"texts": [null]}', 422, "texts[0] is null"),
        (b'{"texts": ["\\ud800"]}', 422, "lone surrogate"),
        (b'{"texts": ["a", "b", "c", "d", "e"]}', 413, "5 texts in one request; the limit is 4"),
        (b'{"texts": ["' + b"x" * 401 + b'"]}', 413, "401 characters in one request; the limit is 400"),
        (b'{"texts": ["' + b"x" * 10_000 + b'"]}', 413, "the body passes"),
    ],
)
def test_a_bad_request_gets_a_4xx_with_a_message_and_the_server_goes_on(server, tagger, body, status, message):
    answer = httpx.post(f"{server.url}tag", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert message in answer.json()["error"]
    good = httpx.post(f"{server.url}tag", json={"texts": REVIEWS[:1]})
    assert good.status_code == 200
    same(good.json()["results"], expected(tagger, REVIEWS[:1]))


def test_no_texts_give_no_results(server):
    assert httpx.post(f"{server.url}tag", json={"texts": []}).json() == {"results": []}


@pytest.mark.parametrize(
    "method, path, status", [("GET", "nothing", 404), ("GET", "tag", 405), ("POST", "health", 405)]
)
def test_unknown_routes_and_methods_are_json_errors(server, method, path, status):
    answer = httpx.request(method, f"{server.url}{path}")
    assert answer.status_code == status
    assert answer.json()["error"].startswith(f"{method} /{path}: ")


def test_health_and_labels(server):
    health = httpx.get(f"{server.url}health").json()
    assert health["status"] == "ok" and health["model"] == MODEL
    labels = httpx.get(f"{server.url}labels").json()
    assert labels == {"labels": ["ASPECT"], "heads": ["semeval14-laptop"], "colors": {"ASPECT": "#d9b8f4"}}


def test_the_page_is_self_contained(server):
    page = httpx.get(server.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<textarea" in page.text and 'fetch("/tag"' in page.text
    assert "http://" not in page.text and "https://" not in page.text and "<link" not in page.text


def test_the_page_highlights_the_entities_in_chromium(server, tagger):
    if not (screenshot.CHROMIUM.exists() and screenshot.CHROMEDRIVER.exists()):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({screenshot.CHROMIUM}, {screenshot.CHROMEDRIVER})")
    pytest.importorskip("selenium", reason="the browser test drives Chromium with selenium (the test extra)")
    text = REVIEWS[6]
    with screenshot.browser() as driver:
        found = screenshot.tag_in_page(driver, server.url, text)
        color = driver.execute_script("return getComputedStyle(document.querySelector('mark.entity')).backgroundColor")
        shown = driver.execute_script("return document.getElementById('output').firstChild.data")
    assert found == [(span.text, span.label) for span in tagger.tag(text).spans]
    assert len(found) >= 2
    assert color == "rgb(217, 184, 244)"  # ASPECT's #d9b8f4
    assert text.startswith(shown)  # the text around the entities is there too


def test_ctrl_c_stops_the_server_without_a_traceback():
    with screenshot.served(MODEL) as running:
        assert httpx.get(f"{running.url}health").status_code == 200
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=30) == 130
    errors = "".join(running.errors)
    assert "Traceback" not in errors and "tagger serve: interrupted" in errors


def test_a_port_in_use_is_one_line_of_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        command = [sys.executable, "-m", "tagger.cli.main", "serve", "--model", MODEL, "--port", port]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"tagger serve: error: cannot listen on 127.0.0.1:{port}: " in done.stderr
    assert "Traceback" not in done.stderr
