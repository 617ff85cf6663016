"""The sparse data-constrained scaling law (Wu, Xiao et al., ICML 2026, arXiv 2606.01155)."""
