"""The repository: the only code that knows how the tables are read and
written. Each operation is a plan (``plan``) of statements and decoding, with
no connection in sight; the runtime runs it, and runs the functions of its
``Call`` steps. One folder per tenant: ``checkpoints/`` for the checkpoint
tables; ``setup`` brings the schema of all of them to head."""
