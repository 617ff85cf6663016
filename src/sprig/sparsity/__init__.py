"""sprig.sparsity"""
