"""Marts: what the warehouse exists for, computed from warehouse facts of any source.
Pure functions (facts in, mart rows out): indicators now (`indicators.py`); criterion
scoring, classification and rankings land here next."""
