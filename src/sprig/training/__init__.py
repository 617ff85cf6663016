"""sprig.training"""
