"""sprig.interop"""
