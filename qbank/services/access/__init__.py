"""Who may do what: users, password hashes and tokens, feature flags and cohorts."""
