"""sprig.cli"""
