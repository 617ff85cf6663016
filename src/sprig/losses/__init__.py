"""sprig.losses"""
