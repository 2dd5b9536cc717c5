"""Contact, order, engagement, consent and suppression imports from S3 (the import function's own package)."""
