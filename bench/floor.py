"""The file system's share of a fluxforge run: the same files written the same way, and nothing else.

``python bench/floor.py FOLDER...``: read every file below the folders, write it back atomically (a temp
file in the same folder, then ``os.replace``), then one ``os.sync()``: the least an in-place
``fluxforge encrypt -i`` of those files must do (no YAML, no crypto, no key). bench/encrypt.py prints it.

``python bench/floor.py --copy TREE DEST``: create every folder and file of TREE (a rendered tree) below DEST,
each file atomically as ``fluxforge render`` writes it (no sync: render does not sync either): the least a
first render of that tree must do. bench/render.py prints it.

Each runs as its own process, so the figure includes the interpreter's start-up as fluxforge's does. A
wall target below the floor cannot be met on that machine by any change to fluxforge's own work.
"""

from __future__ import annotations

import os
import sys

SUFFIXES = (".yaml", ".yml", ".json", ".env", ".ini")


def rewrite(path: str, serial: int, target: str | None = None) -> None:
    """Write ``path``'s bytes atomically to ``target`` (default: back onto ``path``)."""
    with open(path, "rb") as handle:
        data = handle.read()
    target = target or path
    folder, name = os.path.split(target)
    temp = os.path.join(folder, f".{name}.floor-{os.getpid()}-{serial}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temp, target)


def copy(tree: str, dest: str) -> int:
    serial = 0
    for top, dirs, names in os.walk(tree):
        dirs.sort()
        out = os.path.join(dest, os.path.relpath(top, tree))
        os.makedirs(out, exist_ok=True)
        for name in sorted(names):
            serial += 1
            rewrite(os.path.join(top, name), serial, os.path.join(out, name))
    return 0 if serial else 1


def main(folders: list[str]) -> int:
    if folders[:1] == ["--copy"] and len(folders) == 3:
        return copy(folders[1], folders[2])
    serial = 0
    for folder in folders:
        for top, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                if name.endswith(SUFFIXES) and not name.startswith("."):
                    serial += 1
                    rewrite(os.path.join(top, name), serial)
    os.sync()
    return 0 if serial else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
