"""An HTTP JSON API over a ``Tagger`` (Starlette): ``POST /tag``, ``GET /labels``, ``GET /health`` and a page at
``/``. The texts of concurrent requests are tagged together, in one ``Tagger.tag`` call, by a ``Batcher``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from .config import PREDICT_BATCH_SIZE
from .displacy_colors import COLORS
from .predictions import TaggedText
from .tagger import Tagger, check_text

PAGE = resources.files(__package__).joinpath("serving.html")
DEFAULT_COLOR = "#ddd"  # displaCy's, for labels without a colour of their own
JSON_TYPES = {  # the Python type of a parsed JSON value: how error messages name it
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may send (``texts`` texts of ``chars`` characters in all) and how requests are batched:
    at most ``batch`` texts per ``Tagger.tag`` call, from the requests that arrive within ``wait`` seconds of the
    first, and ``batch_size`` sentences per forward pass."""

    texts: int = 64
    chars: int = 100_000
    batch: int = 256
    wait: float = 0.005
    batch_size: int = PREDICT_BATCH_SIZE

    @property
    def body_bytes(self) -> int:
        """The most bytes a request body may take: 12 a character (an escaped astral character is
        ``\\ud83d\\ude00``), 16 a text for its quotes, comma and indentation, and 4 KiB for the rest."""
        return 12 * self.chars + 16 * self.texts + 4096


class RequestError(ValueError):
    """A request the API refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Batcher:
    """Tags the texts of the requests that arrive within ``wait`` seconds of the first, up to ``batch`` texts, in
    one call of ``tag`` (list of texts → list of results) in a worker thread; each request gets its own results.

    A request that would take a batch past ``batch`` texts starts the next one (a request of more texts is a batch
    alone). ``run`` is the task that does the work; ``requests``, ``texts`` and ``batches`` count what it did.
    """

    def __init__(self, tag: Callable[[list[str]], list], batch: int, wait: float):
        self.tag, self.batch, self.wait = tag, batch, wait
        self.queue: asyncio.Queue[tuple[list[str], asyncio.Future]] = asyncio.Queue()
        self.requests = self.texts = self.batches = 0

    async def __call__(self, texts: list[str]) -> list:
        """The results of ``texts``, in order, once their batch is tagged."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def run(self) -> None:
        """Take batches off the queue and tag them, one at a time, until cancelled."""
        loop = asyncio.get_running_loop()
        waiting = None  # the request that did not fit in the last batch
        while True:
            batch = [waiting or await self.queue.get()]
            waiting, size, deadline = None, len(batch[0][0]), loop.time() + self.wait
            while size < self.batch and (left := deadline - loop.time()) > 0:
                try:
                    request = await asyncio.wait_for(self.queue.get(), left)
                except asyncio.TimeoutError:  # TimeoutError from Python 3.11 on
                    break
                if size + len(request[0]) > self.batch:
                    waiting = request
                    break
                batch.append(request)
                size += len(request[0])
            await self._tag(batch)

    async def _tag(self, batch: list[tuple[list[str], asyncio.Future]]) -> None:
        """Tag the texts of ``batch`` together and hand each request its results (or the error, to all)."""
        texts = [text for request, _ in batch for text in request]
        self.requests, self.texts, self.batches = self.requests + len(batch), self.texts + len(texts), self.batches + 1
        try:
            results = await asyncio.to_thread(self.tag, texts)
        except Exception as error:
            logger.exception("tagging a batch of %d texts failed", len(texts))
            results = error
        start = 0
        for request, future in batch:
            if not future.done():  # else cancelled: its client went away
                if isinstance(results, Exception):
                    future.set_exception(results)
                else:
                    future.set_result(results[start : start + len(request)])
            start += len(request)


def texts_of(body: bytes, limits: Limits) -> list[str]:
    """The texts of a ``POST /tag`` body, ``{"texts": [str, ...]}``; a ``RequestError`` says what is wrong."""
    try:
        request = json.loads(body)
    except ValueError as error:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        raise RequestError(400, f"the body is not JSON: {error}") from None
    if not isinstance(request, dict) or "texts" not in request:
        raise RequestError(422, f'expected an object {{"texts": [str, ...]}}, got {JSON_TYPES[type(request)]}')
    texts = request["texts"]
    if not isinstance(texts, list):
        raise RequestError(422, f'"texts" must be a list of strings, got {JSON_TYPES[type(texts)]}')
    if len(texts) > limits.texts:
        raise RequestError(413, f"{len(texts)} texts in one request; the limit is {limits.texts}")
    for number, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(422, f'"texts" must be a list of strings; texts[{number}] is {JSON_TYPES[type(text)]}')
        try:
            check_text(text, f"texts[{number}]")
        except ValueError as error:  # a lone surrogate, which JSON's \uXXXX escapes can write
            raise RequestError(422, str(error)) from None
    chars = sum(map(len, texts))
    if chars > limits.chars:
        raise RequestError(413, f"{chars:,} characters in one request; the limit is {limits.chars:,}")
    return texts


def result(tagged: TaggedText) -> dict:
    """A ``TaggedText`` as the API gives it: ``{"text", "spans": [{start, end, label, score, text}, ...]}``."""
    return {"text": tagged.text, "spans": [span.as_dict() for span in tagged.spans]}


def colors(labels: Sequence[str]) -> dict[str, str]:
    """{label: CSS colour}: displaCy's (``displacy_colors``, looked up in upper case), else ``DEFAULT_COLOR``."""
    return {label: COLORS.get(label.upper(), DEFAULT_COLOR) for label in labels}


def app(tagger: Tagger, name: str, limits: Limits = Limits(), head: str | Sequence[str] | None = None) -> Starlette:
    """The API of ``tagger`` (called ``name`` in ``/health``) tagging with the heads ``head`` chooses (as in
    ``Tagger.predict``), within ``limits``."""
    heads = [chosen.name for chosen in tagger.chosen_heads(head)]
    labels = tagger.chosen_labels(heads)
    page = PAGE.read_text(encoding="utf-8")
    batcher = Batcher(
        lambda texts: [result(t) for t in tagger.tag(texts, limits.batch_size, heads)], limits.batch, limits.wait
    )

    async def post_tag(request: Request) -> JSONResponse:
        try:
            texts = texts_of(await _body(request, limits.body_bytes), limits)
        except RequestError as error:
            return JSONResponse({"error": str(error)}, error.status)
        try:
            results = await batcher(texts) if texts else []
        except Exception as error:  # the batcher logged it
            return JSONResponse({"error": f"tagging failed: {type(error).__name__}: {error}"}, 500)
        return JSONResponse({"results": results})

    async def get_health(request: Request) -> JSONResponse:
        counts = {"requests": batcher.requests, "texts": batcher.texts, "batches": batcher.batches}
        return JSONResponse({"status": "ok", "model": name, **counts})

    async def get_labels(request: Request) -> JSONResponse:
        return JSONResponse({"labels": labels, "heads": heads, "colors": colors(labels)})

    async def get_page(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def error(request: Request, exception: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": f"{request.method} {request.url.path}: {exception.detail}"}, exception.status_code
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        worker = asyncio.create_task(batcher.run())
        yield
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    routes = [
        Route("/", get_page, methods=["GET"]),
        Route("/tag", post_tag, methods=["POST"]),
        Route("/labels", get_labels, methods=["GET"]),
        Route("/health", get_health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: error}, lifespan=lifespan)


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, or a 413 ``RequestError`` as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(413, f"the body passes {limit:,} bytes, the most a request within the limits takes")
    return bytes(body)
