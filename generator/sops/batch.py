"""A batch of files worked by this process and forked copies of it, the results in input order.

``in_order(items, work, jobs)`` runs ``work`` on every item in ``jobs`` processes: this one and
``jobs - 1`` children forked from it (they inherit the items, the key sources and every module it
has loaded, so nothing is sent to them). The items are cut into chunks; every process takes the next
chunk number from a shared pipe of tickets (a slow or busy process simply takes fewer), works it and
keeps going; a child sends each chunk's results back through its own pipe (pickled), and this process
yields the results in item order as soon as the next chunk's are there, working chunks itself meanwhile.

Nothing waits for ever on a child: a child that dies (killed, out of memory, a bug outside ``work``)
closes its pipe, and any chunk it took but did not report is worked here afterwards, so every item
gets exactly one result and a bug shows up here as it would without children. When the caller stops
early (an exception, Ctrl-C), the children still running get SIGTERM (the command line turns it into
an exit that removes the temp file being written) and are waited for.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

P = TypeVar("P")
T = TypeVar("T")

CHUNK = 16  # items per chunk: small enough that the last chunks keep every process busy to the end
_MAX_CHUNKS = 1024  # at most this many tickets (4 bytes each): one write of at most 4 KiB, which even a pipe
# cut to one page (a user over fs.pipe-user-pages-soft) takes at once, with no reader yet: bigger chunks above
_HEAD = struct.Struct("!II")  # a child's message: chunk number, length of the pickled results


def in_order(items: Sequence[P], work: Callable[[P], T], jobs: int) -> Iterator[T]:
    """``work(item)`` for every item, in the order of ``items``, from ``jobs`` processes (this one included)."""
    if jobs < 2 or len(items) <= CHUNK:
        yield from map(work, items)
        return
    yield from _Batch(items, work).run(jobs - 1)


class _Batch(Generic[P, T]):
    def __init__(self, items: Sequence[P], work: Callable[[P], T]) -> None:
        self.items, self.work = items, work
        size = max(CHUNK, -(-len(items) // _MAX_CHUNKS))
        self.chunks = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
        self.done: dict[int, list[T]] = {}  # results of chunks not yet yielded, by chunk number
        self.children: dict[int, tuple[int, bytearray]] = {}  # a child's result pipe: its pid, bytes so far
        self.next = 0  # the chunk whose results are yielded next

    def run(self, children: int) -> Iterator[T]:
        tickets = self._tickets()
        try:
            for _ in range(children):
                self._fork(tickets)
            for number in _claims(tickets):  # this process takes its share too
                self.done[number] = self._chunk(number)
                self._collect(wait=False)
                yield from self._ready()
            while self.children:
                self._collect(wait=True)
                yield from self._ready()
            for number in range(self.next, len(self.chunks)):  # taken by a child that died before reporting
                yield from self.done.pop(number, None) or self._chunk(number)
        finally:
            os.close(tickets)
            self._stop_children()

    def _tickets(self) -> int:
        """A pipe holding every chunk number; its read end (the write end is closed: empty means all taken)."""
        read, write = os.pipe()
        try:
            os.write(write, b"".join(struct.pack("!I", n) for n in range(len(self.chunks))))
        finally:
            os.close(write)
        return read

    def _chunk(self, number: int) -> list[T]:
        start, stop = self.chunks[number]
        return [self.work(item) for item in self.items[start:stop]]

    def _fork(self, tickets: int) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: work chunks until no ticket is left, then leave at once
            os.close(read)
            code = 1
            try:
                self._serve(tickets, write)
                code = 0
            finally:
                os._exit(code)  # no clean-up of the parent's: its finally blocks, atexit, buffers
        os.close(write)
        self.children[read] = (pid, bytearray())

    def _serve(self, tickets: int, write: int) -> None:
        for fd in self.children:  # the other children's pipes are not this one's to hold open
            os.close(fd)
        with os.fdopen(write, "wb") as out:
            for number in _claims(tickets):
                data = pickle.dumps(self._chunk(number), pickle.HIGHEST_PROTOCOL)
                out.write(_HEAD.pack(number, len(data)) + data)
                out.flush()

    def _collect(self, *, wait: bool) -> None:
        """Read what the children have sent (``wait``: block until at least one has sent something or ended)."""
        ready, _, _ = select.select(list(self.children), [], [], None if wait else 0)
        for fd in ready:
            data = os.read(fd, 1 << 16)
            if not data:
                self._ended(fd)
                continue
            buffer = self.children[fd][1]
            buffer += data
            while len(buffer) >= _HEAD.size:
                number, size = _HEAD.unpack_from(buffer)
                if len(buffer) < _HEAD.size + size:
                    break
                self.done[number] = pickle.loads(buffer[_HEAD.size : _HEAD.size + size])  # noqa: S301 - our child
                del buffer[: _HEAD.size + size]

    def _ended(self, fd: int) -> None:
        """A child closed its pipe: it is done (or died; a half-sent chunk is worked here instead)."""
        pid, _ = self.children.pop(fd)
        os.close(fd)
        os.waitpid(pid, 0)

    def _ready(self) -> Iterator[T]:
        while self.next in self.done:
            yield from self.done.pop(self.next)
            self.next += 1

    def _stop_children(self) -> None:
        for fd, (pid, _) in list(self.children.items()):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._ended(fd)


def _claims(tickets: int) -> Iterator[int]:
    """The chunk numbers this process takes, one at a time, until none is left (reads of 4 bytes from a
    pipe holding only 4-byte tickets are whole: each ticket goes to exactly one process)."""
    while len(ticket := os.read(tickets, 4)) == 4:
        yield struct.unpack("!I", ticket)[0]
