"""The demo exam: generated clinical content and seeding."""
