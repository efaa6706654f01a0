"""Next-item selection rules: one small module per rule, one scoring signature (``context``).

``rules.RULES`` names them; ``next_item`` picks for one examinee; ``rules.rule_scorer`` gives the
scoring function a batched simulation ``vmap``s. ``qbank.cat`` re-exports the public names.
"""
