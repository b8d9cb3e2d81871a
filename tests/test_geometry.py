"""Property tests of the per-token sphere geometry over many random draws, dimensions and degenerate tokens."""
import math
import pytest, torch
from refine_lib.geometry import (exp_map, project_to_sphere, radial_angular, slerp, spherical_prior, tangent_project, token_norms)
from refine_lib.paths import get_path

DIMS = [2, 3, 4, 16]


def radius_of(z): return torch.full_like(token_norms(z), math.sqrt(z.shape[1]))


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("seed", range(5))
def test_projection_slerp_exp_map(d, seed):
    g = torch.Generator().manual_seed(seed)
    z0, z1 = torch.randn(16, d, 2, 3, generator=g) * 5, torch.randn(16, d, 2, 3, generator=g) * 0.1
    p = project_to_sphere(z0)
    torch.testing.assert_close(token_norms(p), radius_of(p)); torch.testing.assert_close(project_to_sphere(p), p)
    t = torch.rand(16, generator=g)
    zt, ut = slerp(z0, z1, t)
    torch.testing.assert_close(token_norms(zt), radius_of(zt))
    assert (zt * ut).sum(1).abs().max() < 1e-4                       # velocity is tangent
    assert radial_angular(ut, zt)[2].max() < 1e-6                    # radial share 0 by construction
    h = 0.3 * (1 - t)
    # float32: near-antipodal pairs lose ~1e-4 (sin(omega) is small), hence the tolerance
    torch.testing.assert_close(exp_map(zt, h.view(-1, 1, 1, 1) * ut), slerp(z0, z1, t + h)[0], atol=1e-3, rtol=1e-3)
    v = tangent_project(torch.randn(16, d, 2, 3, generator=g), zt)
    torch.testing.assert_close(token_norms(exp_map(zt, v)), radius_of(zt))
    torch.testing.assert_close(token_norms(spherical_prior((4, d, 2, 2), g)), torch.full((4, 1, 2, 2), math.sqrt(d)))


@pytest.mark.parametrize("d", DIMS)
def test_degenerate_tokens_give_no_nan(d):
    a = torch.randn(3, d, 2, 2)
    for x0, x1 in [(a, a), (a, -a), (0 * a, a), (a, 0 * a), (0 * a, 0 * a), (a, a + 1e-9)]:
        for t in (0.0, 0.25, 0.5, 1.0):
            zt, ut = slerp(x0, x1, t)
            assert torch.isfinite(zt).all() and torch.isfinite(ut).all()
            torch.testing.assert_close(token_norms(zt), radius_of(zt))
        for name in ("shell", "slerp"):
            s = get_path(name).sample(x0, x1, torch.full((3,), 0.5))
            assert torch.isfinite(s.x_t).all() and torch.isfinite(s.u_t).all(), name
    assert torch.isfinite(exp_map(project_to_sphere(a), 0 * a)).all()
