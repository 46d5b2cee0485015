"""Reading text files: in a named encoding (UTF-8 unless told), without a byte-order mark, and with
bytes that are not text in that encoding an error naming the file, the byte offset and the line."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Iterator

from .corpus import CorpusFormatError

DEFAULT_ENCODING = "utf-8"
BOM = "\ufeff"
SURROGATE = re.compile("[\ud800-\udfff]")  # a lone surrogate: in a str, but not Unicode text (no UTF-8 for it)
CHUNK = 1 << 20


class EncodingError(CorpusFormatError):
    """A file whose bytes are not text in the encoding it is read in, or an encoding that does not exist."""


def codec(encoding: str) -> str:
    """The canonical name of ``encoding`` (``latin1`` → ``iso8859-1``); ``EncodingError`` for an unknown one."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise EncodingError(
            f"unknown encoding {encoding!r}; expected a name such as utf-8, latin-1 or cp1252"
        ) from None
    if not hasattr(info, "_is_text_encoding") or info._is_text_encoding:
        return info.name
    raise EncodingError(f"{encoding!r} is not a text encoding; expected a name such as utf-8, latin-1 or cp1252")


def decode(
    data: bytes, where: str | Path, encoding: str = DEFAULT_ENCODING, hint: bool = True, keep_bom: bool = False
) -> str:
    """``data`` as text in ``encoding``, a leading byte-order mark dropped unless ``keep_bom`` (for files whose
    offsets count it); bad bytes raise naming ``where`` (and, with ``hint``, the ``--encoding`` option)."""
    try:
        text = data.decode(codec(encoding))
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _bad_bytes(where, encoding, data[error.start], error.start, line, error.reason, hint) from None
    return text[1:] if text.startswith(BOM) and not keep_bom else text


def read_text(path: str | Path, encoding: str = DEFAULT_ENCODING, hint: bool = True) -> str:
    """The text of the file ``path`` in ``encoding``, without a byte-order mark (see ``decode``)."""
    return decode(read_bytes(path), path, encoding, hint)


def read_bytes(path: str | Path) -> bytes:
    """The bytes of ``path``; a file that cannot be read is a ``CorpusFormatError`` saying why."""
    path = Path(path)
    if path.is_dir():
        raise CorpusFormatError(f"{path} is a folder; expected a file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise CorpusFormatError(f"{path}: cannot read: {error.strerror or error}") from None


def text_lines(path: str | Path, encoding: str = DEFAULT_ENCODING) -> Iterator[str]:
    """The lines of ``path`` in ``encoding`` (universal newlines, kept), streamed; the first without a byte-order mark.

    Bytes that are not text raise ``EncodingError`` at the line they are on, naming their offset.
    """
    path, name = Path(path), codec(encoding)
    try:
        with open(path, encoding=name) as handle:
            first = True
            for line in handle:
                if first:
                    line, first = line.removeprefix(BOM), False
                yield line
    except UnicodeDecodeError:
        raise _locate(path, name) from None
    except (IsADirectoryError, PermissionError) as error:
        raise CorpusFormatError(f"{path}: cannot read: {error.strerror or error}") from None


def check_text_file(path: str | Path, encoding: str = DEFAULT_ENCODING) -> None:
    """Raise ``EncodingError`` unless all of ``path`` decodes in ``encoding``; reads it in chunks."""
    error = _first_bad_bytes(Path(path), codec(encoding))
    if error is not None:
        raise error


def _locate(path: Path, encoding: str) -> EncodingError:
    return _first_bad_bytes(path, encoding) or EncodingError(f"{path}: not {encoding} text")


def _first_bad_bytes(path: Path, encoding: str) -> EncodingError | None:
    """The error for the first bytes of ``path`` that do not decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = lines = 0
    with open(path, "rb") as handle:
        while True:
            data = handle.read(CHUNK)
            state = decoder.getstate()
            held = state[0] if isinstance(state, tuple) and isinstance(state[0], bytes) else b""
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as error:  # error.object: the bytes held from before, then data
                line = lines + error.object.count(b"\n", 0, error.start) - held.count(b"\n") + 1
                at = offset - len(held) + error.start
                return _bad_bytes(path, encoding, error.object[error.start], at, line, error.reason)
            if not data:
                return None
            offset += len(data)
            lines += data.count(b"\n")


def _bad_bytes(
    where: str | Path, encoding: str, byte: int, offset: int, line: int, reason: str, hint: bool = True
) -> EncodingError:
    advice = "; name the file's encoding with --encoding (latin-1, cp1252, ...)" if hint else ""
    return EncodingError(f"{where}:{line}: not {encoding} text: byte {byte:#04x} at offset {offset} ({reason}){advice}")
