import numpy as np
import pytest

from gistsim.errors import check_nonnegative

CASES = [
    [], 0.0, 1.5, -0.0, -1e-300, np.nan, np.inf, -np.inf,
    [1.0, 2.0, 0.0], [1.0, np.nan, 3.0], [1.0, 2.0, -3.0, np.nan], [np.inf, 1.0], [[1.0, 2.0], [3.0, -np.inf]],
]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("values", CASES, ids=[str(c) for c in CASES])
def test_check_nonnegative_refuses_exactly_the_bad_entries_and_names_the_first(values, strict):
    arr = np.asarray(values, dtype=float)
    bad = ~np.isfinite(arr) | (arr <= 0 if strict else arr < 0)  # the definition, entry by entry
    if not bad.any():
        out = check_nonnegative("x", values, strictly_positive=strict)
        assert out.dtype == float and np.array_equal(out, arr)
        return
    first = np.argwhere(bad)[0]
    where = f"x[{', '.join(str(int(i)) for i in first)}]" if arr.ndim else "x ="
    with pytest.raises(ValueError, match=r"\bmust be finite and " + (">" if strict else ">=")) as err:
        check_nonnegative("x", values, strictly_positive=strict)
    assert str(err.value).startswith(where)
