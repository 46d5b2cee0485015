"""Tagging windows on a Ray cluster, merged back in input order.

The driver plans the run's windows (blocks of entries, without reading the documents) and
Ray Data hands each block still to do to an actor of a pool. An actor loads the model once,
sets its torch threads to the CPUs Ray gave it, reads its block's documents with the same
readers as the local engine, tags them with the same function and writes them as the block's
part file. A worker that dies is replaced and its block retried; the retry replaces the same
part. The driver yields the parts in block order as they are done, for the run to write with
the same writers, and deletes each once written. Every worker must see the inputs, the model
and the parts folder at the same paths as the driver (a shared file system, on a cluster).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Iterable, Iterator

import ray
import torch
from ray.data.exceptions import UserCodeException

from ..tagger import Tagger
from .job import AnnotateError, Document, Job
from .parts import block_key, clear, read_part, remove_part, start, write_part
from .sources import Entry, digest, load
from .tagging import tag_documents, tagging_settings

LOCAL_OBJECT_STORE = 128 * 1024**2  # bytes: only blocks' entries and part numbers pass through it
logger = logging.getLogger(__name__)


class BlockTagger:
    """A Ray Data actor: tags blocks of entries into part files; the model loaded once per actor."""

    def __init__(self, job: Job):
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
        torch.set_num_threads(max(1, int(cpus)))
        self.job, self.tagger = job, Tagger.load(job.model)

    def __call__(self, batch: dict) -> dict:
        """Tag each block of ``batch`` (columns ``block``, ``entries`` as JSON) and write its part."""
        for number, records in zip(batch["block"], batch["entries"]):
            documents = [load(Entry(**record), self.job) for record in json.loads(records)]
            as_read = digest(documents)  # before tagging, as the local engine takes it
            tag_documents(self.tagger, documents, **tagging_settings(self.job))
            write_part(self.job.parts_path, int(number), documents, as_read)
        return {"block": batch["block"]}


def tag_on_ray(job: Job, blocks: Iterable[list[Entry]], first: int) -> Iterator[tuple[list[Document], str]]:
    """Each block tagged on Ray, numbered from ``first``, yielded in order with the digest of its documents as read.

    A block whose part an interrupted run left complete is not tagged again. Each part is
    deleted once the caller asks for the next one, and the parts folder when all are done.
    """
    plan = {number: [entry.record() for entry in block] for number, block in enumerate(blocks, start=first)}
    if not plan:
        clear(job.parts_path)
        return
    keys = {number: block_key(records) for number, records in plan.items()}
    done = start(job.parts_path, keys)
    todo = [number for number in plan if number not in done]
    logger.info("%d blocks to tag on Ray, %d already tagged", len(todo), len(done))
    with _connected(job), contextlib.closing(_tagged_blocks(job, plan, todo)) as finished:
        for number in plan:
            while number not in done:
                done.add(_next(finished, number))
            yield read_part(job.parts_path, number)
            remove_part(job.parts_path, number)
    clear(job.parts_path)


def _tagged_blocks(job: Job, plan: dict[int, list[dict]], todo: list[int]) -> Iterator[int]:
    """The numbers of the blocks ``todo`` as Ray finishes tagging them, in any order."""
    if not todo:
        return
    from ray.data import ActorPoolStrategy, DataContext

    DataContext.get_current().enable_progress_bars = False  # the run shows its own
    rows = [{"block": number, "entries": json.dumps(plan[number])} for number in todo]
    cpus = job.threads or 1
    workers = job.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        BlockTagger,
        fn_constructor_args=(job,),
        batch_size=1,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=min(workers, len(rows))),
        num_cpus=cpus,
    )
    for row in dataset.iter_rows():
        yield int(row["block"])


def _next(finished: Iterator[int], waiting: int) -> int:
    """The next block Ray finished; a Ray failure, or Ray ending without block ``waiting``, is an ``AnnotateError``."""
    try:
        return next(finished)
    except StopIteration:
        raise AnnotateError(f"Ray finished without block {waiting}; rerun with --resume") from None
    except (ray.exceptions.RayError, UserCodeException) as error:
        reason = str(error).strip().splitlines()[-1]
        raise AnnotateError(
            f"tagging on Ray failed: {reason}. Everything written so far is whole, and the parts done are kept: "
            "rerun with --resume"
        ) from None


@contextlib.contextmanager
def _connected(job: Job) -> Iterator[None]:
    """Ray as the caller left it if already started, else joined at ``job.ray_address`` or started here, then shut."""
    if ray.is_initialized():
        yield
        return
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if job.ray_address:
            ray.init(address=job.ray_address, **quiet)
        else:
            cpus = job.workers * (job.threads or 1) if job.workers else os.cpu_count()
            ray.init(
                address="local",
                num_cpus=cpus,
                object_store_memory=LOCAL_OBJECT_STORE,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",  # a local Ray listens on this machine only
                **quiet,
            )
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"join the Ray cluster at {job.ray_address}" if job.ray_address else "start a local Ray"
        raise AnnotateError(f"cannot {where}: {error}") from None
    try:
        yield
    finally:
        ray.shutdown()
