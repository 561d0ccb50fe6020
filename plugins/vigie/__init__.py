"""Vigie: data integration for the Ville-Intérieur convention (FIPD, police-population, PART)."""

__version__ = "0.1.0"
