"""sprig.layers"""
