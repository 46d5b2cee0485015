"""Streaming batch annotation: raw documents in, entity spans with exact character offsets out.

Documents are read lazily, a window at a time; the sentences of a whole window are tagged
together (batched by length) and the window's records are written in input order, whole
and synced, before a progress file beside the output records how far the run got. An
interrupted run resumes from there without redoing or duplicating a document. Documents
that cannot be read or tagged go to the errors file with the reason, and the run goes on.

The modules: ``job`` (settings and documents), ``sources`` (reading), ``tagging``,
``writers`` (one per output format), ``run`` (the run and its progress file), and for
the Ray engine ``ray_engine`` (windows tagged by actors on a cluster) and ``parts`` (the
part files they write, merged in order). Both engines share the readers, the tagging
function, the writers and the progress file. Their names are imported from them on first use.
"""

from ..lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "job": ("DIRECTORY_FORMATS", "ENGINES", "FORMATS", "INPUT_FORMATS", "AnnotateError", "Document", "Job"),
        "run": ("Counts", "Summary", "annotate"),
        "tagging": ("tag_documents",),
        "writers": ("WRITERS", "write_brat", "write_conll", "write_jsonl", "write_spacy"),
    },
)

__all__ = [
    "DIRECTORY_FORMATS",
    "ENGINES",
    "FORMATS",
    "INPUT_FORMATS",
    "WRITERS",
    "AnnotateError",
    "Counts",
    "Document",
    "Job",
    "Summary",
    "annotate",
    "tag_documents",
    "write_brat",
    "write_conll",
    "write_jsonl",
    "write_spacy",
]
