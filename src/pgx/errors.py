"""One error type for bad input, printed as one line: file, record, problem."""

from __future__ import annotations


class PgxInputError(Exception):
    """Input the pipeline refuses. `str()` is the one-line message users see."""

    def __init__(self, path: str, problem: str, record: str | None = None) -> None:
        self.path = path
        self.record = record
        self.problem = problem
        where = f"{path}: {record}" if record else path
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[PgxInputError], tuple[str, str, str | None]]:
        # Crosses process boundaries intact.
        return (PgxInputError, (self.path, self.problem, self.record))


def close_matches(word: str, known: list[str], n: int = 3) -> list[str]:
    """The known words closest to a mistyped one, best first (for "did you mean …?")."""
    import difflib

    return difflib.get_close_matches(word, known, n=n, cutoff=0.6)
