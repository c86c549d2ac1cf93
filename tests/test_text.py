"""Counts in messages take the number they call for ("1 problem", "2 problems")."""

import numpy as np

import ds3jax.population as P
from ds3jax._text import counted


def test_counted():
    assert counted(1, "problem") == "1 problem"
    assert counted(0, "problem") == "0 problems"
    assert counted(3, "data set") == "3 data sets"
    assert counted(2, "child", "children") == "2 children"


def test_one_problem_fit_message_is_singular():
    # one problem, 3 of 10 correct: the family is not identified, and the message says so
    # about "1 problem" (it said "1 problems")
    fit = P.fit_passk_counts(np.array([3]), np.array([10]), method="beta", n_boot=0)
    assert not fit.identified and "1 problem, 1 with a correct sample" in fit.message
