"""Observed courses (cases) and their replay with virtual patients."""
