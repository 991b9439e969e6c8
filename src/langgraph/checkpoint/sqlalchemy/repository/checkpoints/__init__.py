"""The checkpoint tables' tenancy of the repository: how ``checkpoints``,
``checkpoint_blobs`` and ``checkpoint_writes`` are read and written, one module
per kind of operation. Plans only: nothing here opens a connection."""
