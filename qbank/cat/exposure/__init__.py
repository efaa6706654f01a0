"""Exposure control inside selection: the Sympson–Hetter lottery and its random numbers."""
