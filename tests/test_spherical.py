"""Spherical flow matching through the library: a spherical training step feeds the model points on the sphere, the
slerp loss ignores radial error, and exp-map sampling of the trained model stays on the sphere."""
import torch
from refine_lib.data import LatentStats
from refine_lib.geometry import token_norms
from refine_lib.paths import get_path
from refine_lib.sampling import generate
from refine_lib.sit import SiTSpec, build_sit
from refine_lib.geometry import flow_prior, to_decoder_input, to_flow_space
from refine_lib.training import LoopConfig, train_flow


def on_sphere(x, radius=2.0, tol=1e-4):
    return bool(((token_norms(x) - radius).abs() < tol).all())


def test_spherical_training_and_sampling_stay_on_the_sphere(tmp_path):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(64, 4, 4, 4, generator=g) * 2 + 0.5          # raw latents: any scale and offset
    stats = LatentStats.fit(z)
    zs = to_flow_space(z, stats, "spherical")
    assert on_sphere(zs)
    model = build_sit(SiTSpec(size="tiny", patch_size=1, input_size=4, in_channels=4), seed=0)
    seen = []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    res = train_flow(model, zs, get_path("slerp"), LoopConfig(steps=6, batch_size=16, warmup_steps=1, checkpoint_every=3, log_every=1),
                     tmp_path, prior=flow_prior("spherical"), progress=False)
    hook.remove()
    assert len(seen) == 6 and all(on_sphere(x) for x in seen)   # every x_t the model trained on lies on the sphere
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in res["history"])
    out = generate(res["ema"], 32, (4, 4, 4), method="exp-euler", steps=10, prior=flow_prior("spherical"))
    assert out.method == "exp-euler-10" and on_sphere(out.x)
    assert on_sphere(stats.normalize(to_decoder_input(out.x, stats, "spherical")))


def test_slerp_loss_ignores_radial_error_and_linear_does_not():
    g = torch.Generator().manual_seed(1)
    x0, x1 = flow_prior("spherical")((8, 4, 3, 3), g), flow_prior("spherical")((8, 4, 3, 3), g)
    t = torch.rand(8, generator=g)
    slerp, linear = get_path("slerp"), get_path("linear")
    s = slerp.sample(x0, x1, t)
    v = torch.randn(s.u_t.shape, generator=g)
    radial = 3.0 * s.x_t                                          # a purely radial change of the prediction
    assert torch.allclose(slerp.loss(v + radial, s), slerp.loss(v, s), atol=1e-5)
    assert torch.allclose(slerp.loss(s.u_t, s), torch.zeros(8), atol=1e-8)
    sl = linear.sample(x0, x1, t)
    assert (linear.loss(v + radial, sl) != linear.loss(v, sl)).all()
