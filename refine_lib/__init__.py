"""Latent flow matching and the refinement of its samples: a reproducible, notebook-first research library.

Modules:

- `refine_lib.geometry`: Per-token spherical geometry of latents: projection onto the sphere of radius sqrt(d), slerp, tangent projection, the exponential map and the radial/angular decomposition.
- `refine_lib.lirf`: Latent Iterative Refinement Flow (arXiv 2509.19903): few-shot generation by densifying the latent training set with a generate-correct-admit loop.
- `refine_lib.metrics`: Sample-quality metrics on features: FID, improved precision/recall, density/coverage, memorisation; pluggable feature extractors (a classifier trained in the pipeline by default; Inception or DINOv2 when you have weights).
- `refine_lib.semantic`: LIRF's semantically aligned latent space: a frozen teacher, an alignment loss that ties the autoencoder's latents to the teacher's features, and the paper's manifold-preservation loss.
- `refine_lib.spherical`: Spherical latent flow matching (Meral et al. 2026): spherical latents, decoder finetuning with a frozen encoder, and the geometry diagnostics (norm concentration, radial share, component-swap probe).
- `refine_lib.stability`: Stability of latent flow matching: per-sample scores for training on reduced data, same-seed stability of two models, and coarse-to-fine sampling with a small and a large model.
- `refine_lib.training`: One readable flow-matching training loop: AdamW, EMA, gradient clipping, bf16 on GPU, accelerate, tqdm, dvclive, atomic safetensors checkpoints with exact resume, and a NaN guard."""

__version__ = "0.1.0"
