"""Sensor library and the SensorManager process pool (issue 4)."""
