"""Example package whose wheel ships precompiled nodes (see ../pyproject.toml)."""

from pathlib import Path

#: Where the wheel puts the library, its manifest and its header.
NODES_DIR = Path(__file__).resolve().parent / "_nodes"
LIBRARY = NODES_DIR / "libaotdemo.so"
MANIFEST = NODES_DIR / "aotdemo.json"
HEADER = NODES_DIR / "aotdemo.h"
