"""The admin API of a model server (``api``: versions, traffic, promotion, stats), its pydantic
bodies (``models``, loaded at the first admin call) and the CLI's client for it (``client``)."""
