"""toree_interpreters"""

__version__ = "0.1.0"
