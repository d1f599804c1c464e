import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from engine.errors import InvalidInputError, UnknownOptionWarning
from engine.validation import as_float_array, as_int_array, check_int, check_options, check_real, check_time_limit


def test_messages_name_function_and_value():
    with pytest.raises(InvalidInputError, match=r"^f\(\): lam must be >= 0, got -1"):
        check_real(-1, "lam", "f()", lower=0)
    with pytest.raises(InvalidInputError, match=r"f\(\): A must be finite, got nan"):
        as_float_array([[1, float("nan")]], "A", "f()")
    with pytest.raises(InvalidInputError, match="ragged"):
        as_float_array([[1, 2], [3]], "A", "f()")
    with pytest.raises(InvalidInputError, match=r"shape \(2, \*\)"):
        as_float_array(np.zeros((3, 2)), "A", "f()", shape=(2, None))
    with pytest.raises(InvalidInputError, match="integers"):
        as_int_array([1.5], "counts", "f()")


def test_accepts_good_values():
    assert check_int(3, "k", "f()", lower=0) == 3
    assert check_time_limit(None, "f()") is None
    assert check_time_limit(math.inf, "f()") == math.inf
    assert as_int_array([1.0, 2.0], "c", "f()").dtype == np.int64


def test_unknown_options_warn_and_are_dropped():
    with pytest.warns(UnknownOptionWarning, match="'nope'"):
        out = check_options({"presolve": "off", "nope": 1}, {"presolve"}, "f()")
    assert out == {"presolve": "off"}


@given(st.one_of(st.text(), st.none(), st.booleans(), st.just(float("nan")), st.just(float("inf")),
                 st.floats(max_value=-1e-9)))
def test_check_real_rejects(bad):
    with pytest.raises(InvalidInputError):
        check_real(bad, "x", "f()", lower=0.0)


def test_complex_and_out_of_range_numbers_are_refused_not_truncated():
    import numpy as np

    from engine.errors import InvalidInputError
    from engine.validation import as_float_array, check_real

    with pytest.raises(InvalidInputError, match="complex"):
        as_float_array(np.array([1.0 + 2.0j]), "x", "f()")
    with pytest.raises(InvalidInputError, match="complex"):
        as_float_array([1.0, 2.0j], "x", "f()")
    with pytest.raises(InvalidInputError, match="float64 range"):
        check_real(10**400, "x", "f()")
    with pytest.raises(InvalidInputError):
        as_float_array([10**400], "x", "f()")
