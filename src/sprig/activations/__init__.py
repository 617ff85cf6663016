"""sprig.activations"""
