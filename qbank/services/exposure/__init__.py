"""Exposure control as admins tune it: the items' sh_p and the exposure table."""
