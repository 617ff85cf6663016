"""sprig.schedules"""
