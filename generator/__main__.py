"""``python -m generator``: what the console script runs (generator.front), so that the git hook
``fluxforge hook install`` writes (``python -m generator hook run``) starts without click too."""

from __future__ import annotations

from generator.front import main

if __name__ == "__main__":
    main()
