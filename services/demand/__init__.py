"""Demand service: weekly units per store x product from price and promotion (dunnhumby frozen pizza)."""
