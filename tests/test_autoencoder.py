"""The pretrained-loading path with small random-init models saved here, bad checkpoints, encode/decode shapes and the round trip."""
import json
import pytest, torch
from diffusers import UNet2DModel
from refine_lib.autoencoder import (AutoencoderError, build_autoencoder, decode_latents, encode_images, fit_or_load_autoencoder,
                                    latent_shape, load_pretrained_autoencoder, reconstruction_metrics, save_autoencoder)
from refine_lib.config import EncodeConfig


@pytest.fixture(scope="module")
def tiny():
    return build_autoencoder(EncodeConfig(block_out_channels=[8, 16, 16], norm_num_groups=4, latent_channels=3), channels=3, image_size=32)


def test_shapes(tiny):
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    z = encode_images(tiny, x, batch_size=2)
    assert z.shape == (3, *latent_shape(tiny, 32)) == (3, 3, 8, 8)
    y = decode_latents(tiny, z, batch_size=2)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1


def test_from_pretrained_folder_and_subfolder(tmp_path, tiny):
    save_autoencoder(tiny, tmp_path / "vae")
    assert (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").exists()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    cfg = EncodeConfig(pretrained=str(tmp_path / "vae"))
    ae, run = fit_or_load_autoencoder(cfg, channels=3, image_size=32, train_images=None)
    assert run["history"] == [] and torch.allclose(encode_images(ae, x), encode_images(tiny, x), atol=1e-6)
    save_autoencoder(tiny, tmp_path / "pipeline" / "vae")
    ae = load_pretrained_autoencoder(str(tmp_path / "pipeline"), subfolder="vae", channels=3)
    assert torch.allclose(decode_latents(ae, encode_images(ae, x)), decode_latents(tiny, encode_images(tiny, x)), atol=1e-6)


def test_hub_id_offline_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)   # read at import: without it the hub is retried for ~20 s
    with pytest.raises(AutoencoderError, match="encode.pretrained: cannot load .*refine-lab/no-such-vae"):
        load_pretrained_autoencoder("refine-lab/no-such-vae")  # an id no local cache holds


def test_checkpoints_from_elsewhere_fail_clearly(tmp_path, tiny):
    # a pickle-only checkpoint: refused (safetensors only, nothing executed)
    pkl = tmp_path / "pickled"; save_autoencoder(tiny, pkl)
    sd = {k: v for k, v in tiny.state_dict().items()}
    (pkl / "diffusion_pytorch_model.safetensors").unlink(); torch.save(sd, pkl / "diffusion_pytorch_model.bin")
    with pytest.raises(AutoencoderError, match=str(pkl)): load_pretrained_autoencoder(str(pkl))
    # a different model class's folder
    unet = tmp_path / "unet"; UNet2DModel(sample_size=8, block_out_channels=(8, 8), norm_num_groups=4,
                                           down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2).save_pretrained(unet)
    with pytest.raises(AutoencoderError, match=str(unet)): load_pretrained_autoencoder(str(unet))
    # truncated weights
    bad = tmp_path / "truncated"; save_autoencoder(tiny, bad)
    w = bad / "diffusion_pytorch_model.safetensors"; w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(AutoencoderError, match=str(bad)): load_pretrained_autoencoder(str(bad))
    # wrong channel count for the data
    ok = save_autoencoder(tiny, tmp_path / "ok")
    with pytest.raises(AutoencoderError, match="data.channels is 1"): load_pretrained_autoencoder(str(ok), channels=1)


def test_round_trip_after_training_is_close():
    torch.manual_seed(0)
    # smooth random images: a short training run must reconstruct them well
    x = torch.nn.functional.interpolate(torch.rand(64, 1, 4, 4), size=16, mode="bilinear", align_corners=False) * 2 - 1
    cfg = EncodeConfig(steps=150, batch_size=32, lr=3e-3)
    ae, run = fit_or_load_autoencoder(cfg, channels=1, image_size=16, train_images=x, seed=0, progress=False)
    hist = run["history"]
    m = reconstruction_metrics(ae, x)
    assert hist[-1]["mse"] < hist[0]["mse"] / 10 and m["mse"] < 0.02 and m["psnr_db"] > 23, m


def test_training_is_deterministic_on_cpu():
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    cfg = EncodeConfig(steps=3, batch_size=4, block_out_channels=[8, 8], norm_num_groups=4)
    runs = [fit_or_load_autoencoder(cfg, 1, 8, x, seed=5, progress=False)[0] for _ in range(2)]
    for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()): assert torch.equal(a, b)
