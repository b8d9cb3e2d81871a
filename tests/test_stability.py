"""The stability paper's pieces on tiny inputs: every score is deterministic given its seed and gives one value per
sample, the clustering criterion keeps its fraction of every cluster, subsets have the size asked for, and the
coarse-to-fine sampler switches models exactly at t_split (t_split 0 and 1 are the pure models, bit for bit)."""
import pytest, torch
from refine_lib import stability as ST
from refine_lib.paths import get_path
from refine_lib.sampling import coarse_to_fine_velocity, euler, generate, generate_coarse_to_fine
from refine_lib.sit import SiTSpec, build_sit


@pytest.fixture(scope="module")
def tiny_set():
    g = torch.Generator().manual_seed(0)
    lat = torch.randn(40, 4, 2, 2, generator=g)
    feats = torch.cat([torch.randn(10, 6, generator=g) + 10 * torch.eye(6)[i] for i in range(4)])   # 4 clear clusters of 10
    net = build_sit(SiTSpec(size="micro", patch_size=1, input_size=2, in_channels=4), seed=0)
    for p in net.parameters(): p.data.add_(0.05 * torch.randn(p.shape, generator=g))   # off the zero init
    return lat, feats, net


def test_every_score_is_deterministic_given_the_seed(tiny_set):
    lat, feats, net = tiny_set
    a = ST.compute_scores(net, lat, feats, get_path("linear"), clusters=4, seed=1)
    b = ST.compute_scores(net, lat, feats, get_path("linear"), clusters=4, seed=1)
    c = ST.compute_scores(net, lat, feats, get_path("linear"), clusters=4, seed=2)
    for k in ("loss", "gradnorm", "random", "kcenter", "cluster", "cluster_cos"):
        assert torch.equal(a[k], b[k]) and a[k].shape == (40,), k
    for k in ("loss", "gradnorm", "random"): assert not torch.equal(a[k], c[k]), k   # other noises, another draw
    assert torch.isfinite(a["loss"]).all() and (a["gradnorm"] > 0).all()
    assert abs(a["loss"].mean() - 1) < 1e-5 and abs(a["gradnorm"].mean() - 1) < 1e-5   # per-t normalised


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
@pytest.mark.parametrize("balanced", [False, True])
def test_clustering_keeps_its_fraction_of_every_cluster(tiny_set, fraction, balanced):
    lat, feats, net = tiny_set
    a, _, cos = ST.spherical_kmeans(torch.nn.functional.normalize(feats, dim=1), 4, seed=0)
    assert sorted(torch.bincount(a).tolist()) == [10, 10, 10, 10]   # the four blobs are found
    for nearest in (True, False):
        keep = ST.keep_per_cluster(a, cos, fraction, nearest=nearest, balanced=balanced)
        per_cluster = torch.bincount(a[keep], minlength=4)
        if balanced:   # the same number from every cluster (round-robin: at most one apart), fraction of the whole set
            assert per_cluster.sum() == round(40 * fraction) and per_cluster.max() - per_cluster.min() <= 1
        else:   # the share of every cluster, up to one (largest remainders), adding up to the fraction of the whole set
            assert per_cluster.sum() == round(40 * fraction) and all(abs(c - 10 * fraction) < 1 for c in per_cluster.tolist())
        for j in range(4):   # the kept members are the nearest (furthest) to their centre
            members = torch.nonzero(a == j).flatten(); kept = keep[a[keep] == j]
            dropped = members[~torch.isin(members, kept)]
            if len(dropped): assert (cos[kept].min() >= cos[dropped].max()) if nearest else (cos[kept].max() <= cos[dropped].min())


@pytest.mark.parametrize("criterion", ["loss", "gradnorm", "random", "kcenter"])
def test_subset_has_the_asked_size_and_direction(tiny_set, criterion):
    lat, feats, net = tiny_set
    sc = ST.compute_scores(net, lat, feats, get_path("linear"), clusters=4, seed=1)
    hi, lo = ST.subset_indices(sc, criterion, 0.25, "highest"), ST.subset_indices(sc, criterion, 0.25, "lowest")
    assert len(hi) == len(lo) == 10 and not set(hi.tolist()) & set(lo.tolist())
    assert sc[criterion][hi].min() >= sc[criterion][lo].max()


def test_coarse_to_fine_switches_exactly_at_t_split():
    small, large = (lambda x, t: torch.ones_like(x)), (lambda x, t: 2 * torch.ones_like(x))
    v = coarse_to_fine_velocity(small, large, 0.7)
    x = torch.zeros(2, 3)
    assert torch.equal(v(x, torch.tensor(0.7 - 1e-6)), torch.ones(2, 3)) and torch.equal(v(x, torch.tensor(0.7)), 2 * torch.ones(2, 3))
    r = euler(coarse_to_fine_velocity(small, large, 0.7), torch.zeros(5, 1), steps=10)   # 7 steps of 0.1 at v=1, 3 at v=2
    assert torch.allclose(r.x, torch.full((5, 1), 1.3)) and v.calls == {"small": 1, "large": 1}


def test_t_split_0_and_1_are_the_pure_models():
    small, large = build_sit(SiTSpec("micro", 1, 4, 4), seed=1), build_sit(SiTSpec("tiny", 1, 4, 4), seed=2)
    for p in list(small.parameters()) + list(large.parameters()): p.data.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    kw = dict(n=6, shape=(4, 4, 4), seed=5, steps=8)
    pure_large, pure_small = generate(large, **kw).x, generate(small, **kw).x
    assert not torch.equal(pure_large, pure_small)
    assert torch.equal(generate_coarse_to_fine(small, large, 0.0, **kw).x, pure_large)
    assert torch.equal(generate_coarse_to_fine(small, large, 1.0, **kw).x, pure_small)
    mid = generate_coarse_to_fine(small, large, 0.5, **kw)
    assert mid.calls == {"small": 4, "large": 4} and not torch.equal(mid.x, pure_large) and not torch.equal(mid.x, pure_small)
