"""fangkong (防控): outbreak command software for county and township HQs."""

__version__ = "0.1.0"
