"""Storage: the SQLAlchemy models of ``sql/schema.sql``, engines and schema creation."""
