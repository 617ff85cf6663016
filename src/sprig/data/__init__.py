"""sprig.data"""
