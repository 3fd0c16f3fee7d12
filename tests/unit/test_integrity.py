"""The one numpy-to-JSON conversion every pytyche file format writes through."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytyche._integrity import jsonable


class TestJsonable:
    def test_numpy_values_become_python_values(self) -> None:
        """Arrays become lists, numpy scalars and keys Python scalars, tuples lists."""
        out = jsonable({np.int64(3): (np.float32(0.5), np.arange(2)), "b": np.bool_(True)})
        assert out == {3: [0.5, [0, 1]], "b": True}
        assert type(next(iter(out))) is int and type(out["b"]) is bool

    def test_non_finite_floats_round_trip(self) -> None:
        """NaN and infinity are kept, so a saved file reads back the values it was given."""
        out = json.loads(json.dumps(jsonable({"ess": [np.float64("nan"), np.inf]})))
        assert math.isnan(out["ess"][0]) and out["ess"][1] == math.inf

    def test_unknown_objects_are_refused(self) -> None:
        """Nothing is silently written as its str()."""
        with pytest.raises(TypeError, match="cannot write set"):
            jsonable({"x": {1, 2}})
