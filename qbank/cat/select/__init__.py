"""Next-item selection rules: one small module per rule; ``qbank.cat`` re-exports them."""
