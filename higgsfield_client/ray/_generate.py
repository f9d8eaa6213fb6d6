"""``HiggsfieldGenerate``: the callable class Ray Data builds once per actor."""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any, Optional

from anyio.from_thread import start_blocking_portal

from higgsfield_proto import InvalidArgumentError, PollPolicy, RetryPolicy

from .._async import AsyncClient
from ._rows import IntegerFields, read_rows, with_results
from ._work import RowRunner, outputs_for


class HiggsfieldGenerate:
    """Runs each row of a Ray Data batch as one generation; for ``Dataset.map_batches``.

    Ray builds one per actor, with ``fn_constructor_kwargs`` as the arguments. Each holds one
    ``AsyncClient`` on an event loop of its own for its whole life, so that connections are
    reused from batch to batch; ``close()`` ends both (garbage collection does too).

    Input columns: ``id`` (required: text or an int; 1 to 128 letters, digits, ``.``, ``_`` or
    ``-``, starting with a letter or digit, unique in the dataset), ``model`` (optional with
    ``model=``), ``arguments`` (a JSON object as text, or a dict; missing means ``{}``).
    Output: the input columns plus ``request_id``, ``status`` (``completed``, ``failed``,
    ``nsfw``, ``canceled``, ``rejected``, ``unfinished``), ``output_urls`` (list of str),
    ``error`` (str or None), and ``output_bytes`` (list of bytes) with ``download="bytes"``, or
    ``output_paths`` (list of URIs) with a filesystem URI.

    Args:
        batch_name: the namespace of the rows' Idempotency-Keys: the same name and row id find
            the same job, in any run; a new name makes new jobs.
        model: the model of rows with no ``model``.
        concurrency: the most rows in flight at once in this actor; halved while the API
            answers that the account is full (429), then grown back.
        download: ``"none"`` (URLs only), ``"bytes"``, or a filesystem URI that
            ``pyarrow.fs.FileSystem.from_uri`` opens (``file:///data/out``,
            ``s3://bucket/prefix``): outputs are written to ``<uri>/<row id>/<name>`` through a
            part file that takes the final name once complete.
        job_timeout: seconds to wait for one job before the row ends ``unfinished`` (None: no
            limit).
        api_key: the credentials; default ``HF_KEY``, else ``HF_API_KEY`` + ``HF_API_SECRET``
            in the actor's environment.
        base_url: the API root; default ``HIGGSFIELD_BASE_URL``, else the API's host.
        poll: the client's poll policy (when to check a job's status).
        retry: the client's retry policy.

    Raises:
        InvalidArgumentError: a bad option (an empty batch name, ``concurrency`` below 1, a
            ``job_timeout`` not positive, a URI pyarrow cannot open, an insecure base URL).
        CredentialsMissedError: no credentials were given or found.
    """

    def __init__(
        self,
        *,
        batch_name: str,
        model: Optional[str] = None,
        concurrency: int = 16,
        download: str = "none",
        job_timeout: Optional[float] = 3600.0,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        poll: Optional[PollPolicy] = None,
        retry: Optional[RetryPolicy] = None,
    ) -> None:
        if not isinstance(batch_name, str) or not batch_name or "\0" in batch_name:
            raise InvalidArgumentError("batch_name must be a non-empty text without NUL characters")
        if concurrency < 1:
            raise InvalidArgumentError("concurrency must be at least 1")
        if job_timeout is not None and not (job_timeout > 0 and math.isfinite(job_timeout)):
            raise InvalidArgumentError("job_timeout must be a positive number of seconds, or None")
        self.batch_name = batch_name
        self._model = model
        outputs = outputs_for(download)
        self._outputs_column = None if outputs is None else outputs.column
        self._integers = IntegerFields()
        client = AsyncClient(base_url=base_url, api_key=api_key, poll=poll, retry=retry)
        client._calls.settings.config  # noqa: B018 - credentials and base URL checked now, not per row
        self._stack = contextlib.ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._stack.callback(self._portal.call, client.aclose)
        # Made in the loop's thread: its gate and limiter belong to that loop.
        self._runner = self._portal.call(
            functools.partial(
                RowRunner,
                client,
                batch_name=batch_name,
                concurrency=concurrency,
                job_timeout=job_timeout,
                outputs=outputs,
            )
        )

    def __call__(self, batch: Any) -> Any:
        """Run the rows of ``batch``; returns it with the output columns.

        A row's own failure goes into its ``status`` and ``error``; a row that cannot be run
        (no id, an id that cannot name a folder, arguments that are not an object, no model)
        is ``rejected`` without a request.

        Args:
            batch: a dict of columns (NumPy arrays or lists; Ray's default batch format) or a
                pandas DataFrame (``batch_format="pandas"``).

        Returns:
            A dict of columns, or a DataFrame for a DataFrame.

        Raises:
            BatchInputError: ``batch`` is not a batch of columns, or has no ``id`` column.
            AuthenticationError, InsufficientCreditsError, PermissionDeniedError: the API refused
                the account; every row would fail so, and the rows in flight were canceled.
        """
        rows = read_rows(batch, self._model, self._integers)
        results = self._portal.call(self._runner.run, rows)
        return with_results(batch, results, self._outputs_column)

    def close(self) -> None:
        """Close the client and stop the event loop; later calls fail. Safe to call twice."""
        self._stack.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # half-built, or collected in the loop's own thread
            self.close()

