"""Imported first by every adapter. In a checkout, its own src/ goes first on sys.path, so a
job never runs a stale installed pgx; deployed elsewhere, the installed pgx is used. (Snakemake
puts this folder on the path of every script it runs.)"""

import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
if (SRC / "pgx").is_dir():
    sys.path.insert(0, str(SRC))
