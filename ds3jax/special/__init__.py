"""Special functions for DS3, differentiable and accurate in float64.

* ``betainc(a, b, x)``, ``log_betainc(a, b, x)``, ``log_betaincc(a, b, x)``: the regularized
  incomplete beta I_x(a, b), log I and log(1 - I), with first and second derivatives in
  a, b and x (paper Eq. 20 and everything built on it).
* ``betaincinv(a, b, y)``: the inverse in x, differentiable (implicit function theorem).
* ``lambertw0(x)``: principal branch of the Lambert W function (giant components, Eq. 50).
* ``log1p(x)``: a float64-accurate ``log(1 + x)`` (XLA's CPU kernel is off by ~1e-14).
"""

from ._betainc import betainc as betainc
from ._betainc import log_betainc as log_betainc
from ._betainc import log_betaincc as log_betaincc
from ._betaincinv import betaincinv as betaincinv
from ._elementary import log1p as log1p
from ._lambertw import lambertw0 as lambertw0

__all__ = ["betainc", "log_betainc", "log_betaincc", "betaincinv", "lambertw0", "log1p"]
