"""sprig.specs"""
