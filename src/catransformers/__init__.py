"""CATransformers: carbon-aware joint search over pruned Transformers and edge accelerators."""

__version__ = "0.1.0"
