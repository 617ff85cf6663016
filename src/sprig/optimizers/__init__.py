"""sprig.optimizers"""
