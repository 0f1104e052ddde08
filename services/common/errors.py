"""Errors a model raises for a request it cannot answer; the app factory answers them as 400."""
from __future__ import annotations


class InputError(ValueError):
    """A request the model cannot answer (unknown store, date out of range), blamed on one field.

    Lives apart from Flask so model modules can raise it without knowing about HTTP.
    """

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
