"""``tagger serve``: an HTTP JSON API and a web page that tag raw text with a model."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from .. import DISTRIBUTION
from ..config import PREDICT_BATCH_SIZE
from .heads import add_head_option
from .sources import MODEL_HELP, non_negative, positive


class ServeError(OSError):
    """An address the server cannot listen on, or the ``serve`` extra not installed."""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve a model over HTTP",
        description='Serve a model as an HTTP JSON API (POST /tag {"texts": [...]}, GET /labels, GET /health) with '
        "a page at / to try it in a browser. Requests that arrive together are tagged in one batch. Ctrl-C stops.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help=MODEL_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=port, default=8080, help="port to listen on; 0: a free one")
    parser.add_argument("--max-texts", type=positive, default=64, help="texts one request may send")
    parser.add_argument("--max-chars", type=positive, default=100_000, help="characters one request may send")
    parser.add_argument("--max-batch", type=positive, default=256, help="texts of waiting requests tagged together")
    parser.add_argument(
        "--wait-ms", type=non_negative, default=5, help="how long a batch waits for more requests, in milliseconds"
    )
    parser.add_argument("--batch-size", type=positive, default=PREDICT_BATCH_SIZE, help="sentences per forward pass")
    parser.add_argument("--threads", type=non_negative, default=0, help="torch threads; 0 keeps torch's default")
    add_head_option(parser)
    parser.set_defaults(run=run)


def port(text: str) -> int:
    """An argparse type: a TCP port number, 0 to 65535."""
    number = non_negative(text)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number of 0 to 65535, got {number}")
    return number


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host``:``port`` (port 0: one the system picks)."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listening = socket.socket(family, kind, protocol)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(128)
    except OSError as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listening


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serving import Limits, app
    except ImportError as error:
        raise ServeError(f"tagger serve needs the serve extra: pip install '{DISTRIBUTION}[serve]' ({error})") from None
    import torch

    from ..tagger import Tagger

    if args.threads:
        torch.set_num_threads(args.threads)
    tagger = Tagger.load(args.model)
    limits = Limits(args.max_texts, args.max_chars, args.max_batch, args.wait_ms / 1000, args.batch_size)
    served = app(tagger, str(args.model), limits, args.head)
    listening = listen(args.host, args.port)
    host, bound = listening.getsockname()[:2]
    url = f"http://{f'[{host}]' if ':' in host else host}:{bound}/"
    labels = ", ".join(tagger.chosen_labels(args.head))
    api = "POST /tag, GET /labels, GET /health"
    print(f"tagger serve: {args.model} ({labels}) at {url} (the page; the API: {api}). Ctrl-C stops", file=sys.stderr)
    config = uvicorn.Config(served, log_level="info" if args.verbose else "warning", access_log=args.verbose)
    server = uvicorn.Server(config)
    server.run(sockets=[listening])
    if server.should_exit:  # a signal stopped it; uvicorn raises it again after shutting down, but asyncio can
        raise KeyboardInterrupt  # take that for its own and return quietly (seen under load: exit 0, not 130)
    return 0
