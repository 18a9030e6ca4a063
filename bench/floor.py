"""The file system's share of an in-place batch: read every file below the folders given, write it back
atomically (a temp file in the same folder, then ``os.replace``), then one ``os.sync()``, nothing else.

This is the least an in-place ``fluxforge encrypt -i`` or ``decrypt -i`` must do for the same files (no
YAML, no crypto, no key), run as its own process so that the figure includes the interpreter's start-up
as fluxforge's does. bench/encrypt.py and bench/decrypt.py print it beside their figures: a target below
this floor cannot be met on that machine by any change to fluxforge's own work.

Usage: python bench/floor.py FOLDER...
"""

from __future__ import annotations

import os
import sys

SUFFIXES = (".yaml", ".yml", ".json", ".env", ".ini")


def rewrite(path: str, serial: int) -> None:
    with open(path, "rb") as handle:
        data = handle.read()
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.floor-{os.getpid()}-{serial}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temp, path)


def main(folders: list[str]) -> int:
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
