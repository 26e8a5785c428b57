"""pgx: genomics-guided therapy matching for precision oncology."""

__version__ = "0.1.0"
