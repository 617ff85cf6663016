"""sprig.models"""
