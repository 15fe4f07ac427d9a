"""modelyard: two small files per model, then train, track, register, serve and ship it."""
