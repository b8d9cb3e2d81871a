"""What the measurement scripts read from a finished `make repro`, loaded the way the sampling stages load it."""
from refine_lib import autoencoder as A, config, data as D, evaluation as E, metrics as M


def load_pipeline_outputs():
    """`(params, dataset, reference, encode autoencoder, training latents, labels, latent stats)` of the committed
    params.yaml and the encode and features stages' outputs (run from the project root)."""
    p = config.load_params()
    ds = D.load_dataset(p.data)
    ref = E.make_reference(ds, M.load_feature_extractor(p.features, "outputs/features"))
    ae = A.load_pretrained_autoencoder("outputs/encode/autoencoder", channels=p.data.channels)
    z, labels, stats = D.load_latents("outputs/encode/latents_train.safetensors")
    return p, ds, ref, ae, z, labels, stats
