"""A batch of files worked by this process and forked copies of it, the results in input order.

``in_order(items, work, jobs)`` runs ``work`` on every item in ``jobs`` processes: this one and
``jobs - 1`` children forked from it (they inherit the items, the key sources and every module it
has loaded, so nothing is sent to them). The items are cut into chunks; every process takes the next
chunk number from a shared pipe of tickets (a slow or busy process simply takes fewer), works it and
keeps going; a child sends each item's result back through its own pipe (pickled) as soon as it has
it, and this process yields the results in item order as they arrive, working chunks itself meanwhile.

Nothing waits for ever on a child: a child that dies (killed, out of memory, a bug outside ``work``)
closes its pipe, and every item it took but did not report is worked here afterwards, so every item
gets exactly one result and a bug shows up here as it would without children. Only the item a child
was working on when it died can be worked twice (it may have written its file without reporting it).
When the caller stops early (an exception, Ctrl-C), the children still running get SIGTERM (the
command line turns it into an exit that removes the temp file being written) and are waited for.

Signals that end the command (SIGINT, SIGTERM, SIGHUP) are held back while a child is forked and
registered, so a child never runs the caller's code and this process never loses track of a child. A
process or pipe that cannot be made (a process or file limit) leaves the batch to the processes it has.
``work`` must not fork (a forked copy would hold the child's pipe open); starting a program is fine.
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
_HEAD = struct.Struct("!II")  # a child's message: item index, length of the pickled result
_HELD = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})  # held back while a child is forked


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
        self.done: dict[int, T] = {}  # results not yet yielded, by item index
        self.children: dict[int, tuple[int, bytearray]] = {}  # a child's result pipe: its pid, bytes so far
        self.poll = select.poll()  # the children's result pipes (poll: any descriptor number)
        self.next = 0  # the item whose result is yielded next

    def run(self, children: int) -> Iterator[T]:
        tickets = self._tickets()
        try:
            for _ in range(min(children, len(self.chunks) - 1)):  # an idle child would only cost its fork
                if not self._fork(tickets):
                    break  # no more processes or pipes to be had: the batch goes on with those it has
            for number in _claims(tickets):  # this process takes its share too
                start, stop = self.chunks[number]
                self.done.update((index, self.work(self.items[index])) for index in range(start, stop))
                self._collect(wait=False)
                yield from self._ready()
            while self.children:
                self._collect(wait=True)
                yield from self._ready()
            for index in range(self.next, len(self.items)):  # taken by a child that died before reporting it
                yield self.done.pop(index) if index in self.done else self.work(self.items[index])
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

    def _fork(self, tickets: int) -> bool:
        """Start one child (False when no pipe or process can be had). The signals in ``_HELD`` wait until
        the child is registered here, and, in the child, until it is inside the block that ends in
        ``os._exit``: a signal never sends a child into the caller's code."""
        try:
            read, write = os.pipe()
        except OSError:
            return False
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            try:
                pid = os.fork()
            except OSError:
                os.close(read)
                os.close(write)
                return False
            if pid == 0:  # the child: work chunks until no ticket is left, then leave at once
                code = 1
                try:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
                    os.close(read)
                    self._serve(tickets, write)
                    code = 0
                finally:
                    os._exit(code)  # no clean-up of the parent's: its finally blocks, atexit, buffers
            os.close(write)
            self.children[read] = (pid, bytearray())
            self.poll.register(read, select.POLLIN)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return True

    def _serve(self, tickets: int, write: int) -> None:
        for fd in self.children:  # the other children's pipes are not this one's to hold open
            os.close(fd)
        for number in _claims(tickets):
            start, stop = self.chunks[number]
            for index in range(start, stop):
                data = pickle.dumps(self.work(self.items[index]), pickle.HIGHEST_PROTOCOL)
                _write_all(write, _HEAD.pack(index, len(data)) + data)  # reported as soon as it is done

    def _collect(self, *, wait: bool) -> None:
        """Read what the children have sent (``wait``: block until at least one has sent something or ended)."""
        for fd, _ in self.poll.poll(None if wait else 0):
            data = os.read(fd, 1 << 16)
            if not data:
                self._ended(fd)
                continue
            buffer = self.children[fd][1]
            buffer += data
            while len(buffer) >= _HEAD.size:
                index, size = _HEAD.unpack_from(buffer)
                if len(buffer) < _HEAD.size + size:
                    break
                self.done[index] = pickle.loads(buffer[_HEAD.size : _HEAD.size + size])  # noqa: S301 - our child
                del buffer[: _HEAD.size + size]

    def _ended(self, fd: int) -> None:
        """A child closed its pipe: it is done (or died; a half-sent result is worked here instead)."""
        pid, _ = self.children.pop(fd)
        self.poll.unregister(fd)
        os.close(fd)
        _reap(pid)

    def _ready(self) -> Iterator[T]:
        while self.next in self.done:
            yield self.done.pop(self.next)
            self.next += 1

    def _stop_children(self) -> None:
        """Every child still running gets SIGTERM first, then each is waited for (a second Ctrl-C while
        waiting leaves none of them unsignalled)."""
        for pid, _ in self.children.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for fd in list(self.children):
            self._ended(fd)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # already reaped (SIGCHLD set to SIG_IGN by a program embedding this)
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _claims(tickets: int) -> Iterator[int]:
    """The chunk numbers this process takes, one at a time, until none is left (reads of 4 bytes from a
    pipe holding only 4-byte tickets are whole: each ticket goes to exactly one process)."""
    while len(ticket := os.read(tickets, 4)) == 4:
        yield struct.unpack("!I", ticket)[0]
