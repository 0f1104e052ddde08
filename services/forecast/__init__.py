"""Forecast service: match attendance, a calibrated interval and the fill rate."""
