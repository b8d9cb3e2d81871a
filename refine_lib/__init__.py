"""Latent flow matching and the refinement of its samples: a reproducible, notebook-first research library."""

__version__ = "0.1.0"
