"""A parser started early: a worker forked as a rebuild starts, to parse what changed.

After a one-line edit, most of a rebuild's time is the parse of the edited source, and
most of that is start-up: importing docutils and pydantic (the entry models) and compiling
docutils' patterns (~0.35 s, against ~0.1 s for the parse itself). Meanwhile the building
process resolves the sources, checks the previous index and finds what changed, all
without the parser. So the build forks a worker first: it gets the parser ready while the
build works out what changed, then prepares those sources (``prepare_source``, the same
work as in-process) and sends each result back through a pipe, in order.

Only where forking is safe: a POSIX process with no other thread (``faq-kb build``, a
cold ``faq-search``; not the bot, which rebuilds from a thread). Anything amiss with the
worker (it died, a result does not arrive whole) and the build prepares the rest itself:
the worker only ever saves time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

from kb.ingest.sources import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kb.index.prepare import Prepared

# A few of each construct docutils compiles patterns for on first use.
_WARM_UP = """\
Title
=====

A question?
-----------

Text with *emphasis*, **strong**, ``code``, a `link <https://example.org>`_ and ref_.

.. _ref: https://example.org

* item

  ::

     code

.. note:: a note
"""


class EarlyParser:
    """The forked worker's two pipe ends, and its process id."""

    def __init__(self, pid: int, requests: int, results: int) -> None:
        self.pid = pid
        self._requests: int | None = requests
        self._results = os.fdopen(results, "rb")

    @classmethod
    def start(cls) -> EarlyParser | None:
        """Fork the worker, or None where forking is not safe or not possible."""
        if not _forkable():
            return None
        requests_r, requests_w = os.pipe()
        results_r, results_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (requests_r, requests_w, results_r, results_w):
                os.close(fd)
            return None
        if pid == 0:  # the worker: never returns
            os.close(requests_w)
            os.close(results_r)
            _serve(requests_r, results_w)
        os.close(requests_r)
        os.close(results_w)
        return cls(pid, requests_w, results_r)

    def ask(self, sources: list[Source]) -> Iterator[Prepared]:
        """Send the worker ``sources``; returns each one prepared, in order, as it comes:
        by the worker, or here for any it did not send back."""
        import pickle

        fd, self._requests = self._requests, None
        assert fd is not None
        data = pickle.dumps(sources, pickle.HIGHEST_PROTOCOL)
        with contextlib.suppress(OSError), open(fd, "wb") as pipe:  # gone: parsed here
            pipe.write(len(data).to_bytes(8, "little"))
            pipe.write(data)
        return self._results_of(sources)

    def _results_of(self, sources: list[Source]) -> Iterator[Prepared]:
        from kb.index.prepare import prepare_source

        done = 0
        try:
            while done < len(sources):
                prepared = self._receive()
                if prepared is None:
                    break
                done += 1
                yield prepared
        except OSError:
            pass
        finally:
            self.close()
        for source in sources[done:]:  # the worker failed: the rest are parsed here
            yield prepare_source(source)

    def _receive(self) -> Prepared | None:
        import pickle

        head = self._results.read(8)
        if len(head) < 8:
            return None
        size = int.from_bytes(head, "little")
        data = self._results.read(size)
        if len(data) < size:
            return None
        prepared: Prepared = pickle.loads(data)
        return prepared

    def close(self) -> None:
        """Stop the worker and reap it: its results are in, or no longer wanted."""
        if self._requests is not None:
            os.close(self._requests)
            self._requests = None
        if not self._results.closed:
            self._results.close()
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0


@contextlib.contextmanager
def started(wanted: bool = True) -> Iterator[EarlyParser | None]:
    """An early parser for the block (None if not ``wanted`` or forking is unsafe), stopped
    when the block ends, whatever became of it."""
    early = EarlyParser.start() if wanted else None
    try:
        yield early
    finally:
        if early is not None:
            early.close()


def _forkable() -> bool:
    """Whether this process may fork: POSIX, and no thread but this one."""
    threading = sys.modules.get("threading")
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


def _serve(requests: int, results: int) -> None:
    """The worker: get the parser ready, then prepare each source asked for."""
    status = 1
    try:
        import pickle

        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the build handles it
        from kb.index.prepare import prepare_source
        from kb.ingest.parse import warm_up

        warm_up(_WARM_UP)
        with open(requests, "rb") as pipe:
            head = pipe.read(8)
            sources: list[Source] = (
                pickle.loads(pipe.read(int.from_bytes(head, "little"))) if len(head) == 8 else []
            )
        with open(results, "wb") as out:
            for source in sources:
                data = pickle.dumps(prepare_source(source), pickle.HIGHEST_PROTOCOL)
                out.write(len(data).to_bytes(8, "little"))
                out.write(data)
                out.flush()
        status = 0
    except BaseException:  # noqa: BLE001 - the build prepares whatever did not arrive
        pass
    finally:
        os._exit(status)
