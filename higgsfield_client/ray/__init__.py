"""Generations in a Ray Data pipeline: ``HiggsfieldGenerate``, a callable class for
``Dataset.map_batches`` (the ``ray`` extra: ``pip install 'higgsfield-sansio[ray]'``).

    from ray.data import ActorPoolStrategy

    results = dataset.map_batches(
        HiggsfieldGenerate,
        fn_constructor_kwargs={"batch_name": "postcards-2026-11", "model": "higgsfield-ai/soul/standard"},
        compute=ActorPoolStrategy(size=4),
    )

Each row is one generation (columns ``id``, ``model``, ``arguments``) and comes back with
``request_id``, ``status``, ``output_urls`` and ``error``. A row's Idempotency-Key comes from the
batch name and its id, so a task Ray retries, or a pipeline run again, finds the row's job
instead of making (and billing) a second one. See "On Ray" on the Batches page of the docs.

This module imports neither Ray nor pandas: Ray imports it in its actors.
"""

from ._generate import HiggsfieldGenerate
from ._rows import idempotency_key

__all__ = [
    "HiggsfieldGenerate",
    "idempotency_key",
]
